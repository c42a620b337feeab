// The inspector page's stylesheet (served from the package: no CDN, no web fonts).

/** `assets/inspector.css`. */
export const PAGE_CSS = `
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: #1a202c; background: #f4f6fa; }
header { display: flex; gap: 16px; align-items: center; padding: 8px 16px; background: #1a202c; color: #fff; }
header h1 { font-size: 15px; margin: 0; }
#conn { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #718096; }
#conn[data-state="live"] { background: #0f9d58; }
#conn[data-state="closed"] { background: #c53030; }
main { display: grid; grid-template-columns: 260px 1fr; min-height: calc(100vh - 40px); }
nav { background: #fff; border-right: 1px solid #e2e8f0; padding: 8px; overflow: auto; }
nav h2, section h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: #4a5568; margin: 8px 0 4px; }
#actors { list-style: none; margin: 0; padding: 0; }
#actors li { display: flex; justify-content: space-between; gap: 8px; padding: 5px 8px; border-radius: 4px; cursor: pointer; }
#actors li:hover { background: #edf2f7; }
#actors li[aria-selected="true"] { background: #e3f9ee; font-weight: 600; }
#actors .phase { font: 12px monospace; color: #2d3748; }
#actors li[data-phase="running"] .phase { color: #0f9d58; }
#actors li[data-phase="paused"] .phase { color: #b7791f; }
#actors li[data-phase="stopped"] .phase { color: #c53030; }
#detail { padding: 12px 16px; overflow: auto; }
#title { font-size: 18px; margin: 0 0 4px; }
#summary { display: flex; gap: 16px; font: 12px monospace; margin-bottom: 8px; }
#summary span:empty { display: none; }
#chart { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; overflow: auto; max-height: 70vh; }
#chart { contain: content; }
#chart svg { display: block; width: 100%; height: auto; max-height: 68vh; }
.cols { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; margin-top: 12px; }
#timeline { contain: content; list-style: none; margin: 0; padding: 0; max-height: 40vh; overflow: auto; background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; font: 12px monospace; }
#timeline li { display: grid; grid-template-columns: 96px 80px 1fr; gap: 8px; padding: 2px 8px; border-bottom: 1px solid #f0f2f5; }
#timeline time { color: #718096; }
#timeline .kind { color: #4a5568; }
#timeline li[data-kind="lifecycle"] .summary { color: #0f9d58; font-weight: 600; }
#timeline li[data-kind="operation"] .summary { color: #2b6cb0; }
#timeline li[data-kind="qmp"] .summary { color: #805ad5; }
#timeline li[data-kind="process"] .summary { color: #c53030; }
#timeline li[data-kind="machine"] { color: #a0aec0; }
table { border-collapse: collapse; width: 100%; background: #fff; font: 12px monospace; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #edf2f7; }
#queue { font: 12px monospace; margin: 0; padding-left: 18px; }
#context { font: 11px monospace; background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 6px; max-height: 24vh; overflow: auto; margin: 0; }
.empty { color: #a0aec0; }
`;
