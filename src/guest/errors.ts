import { VmactorError } from '../errors/vmactor-error.js';

/** A host prerequisite of `vmactor setup` (apt-get, dpkg-deb, busybox-static, ...) is missing. */
export class GuestPrerequisiteError extends VmactorError {
  override readonly name = 'GuestPrerequisiteError' as const;
  readonly code = 'ERR_GUEST_PREREQUISITE' as const;
  /** Each missing prerequisite with the hint that fixes it. */
  readonly missing: readonly { readonly what: string; readonly hint: string }[];

  constructor(missing: readonly { readonly what: string; readonly hint: string }[]) {
    super(
      `Missing prerequisites for the default guest:\n${missing.map((m) => `  - ${m.what}: ${m.hint}`).join('\n')}`,
    );
    this.missing = missing;
  }
}

/** Building the default guest failed (download, extraction, module resolution, archive). */
export class GuestBuildError extends VmactorError {
  override readonly name = 'GuestBuildError' as const;
  readonly code = 'ERR_GUEST_BUILD' as const;
}

/** A request to the guest agent was malformed before anything was sent. */
export class GuestRequestInvalidError extends VmactorError {
  override readonly name = 'GuestRequestInvalidError' as const;
  readonly code = 'ERR_GUEST_REQUEST_INVALID' as const;
}

/** The guest agent did not answer (or did not become ready) before the deadline. */
export class GuestAgentTimeoutError extends VmactorError {
  override readonly name = 'GuestAgentTimeoutError' as const;
  readonly code = 'ERR_GUEST_AGENT_TIMEOUT' as const;
}

/** No guest event matched {@link GuestAgentClient.waitForEvent}'s predicate before the deadline (or the wait was aborted). */
export class GuestEventTimeoutError extends VmactorError {
  override readonly name = 'GuestEventTimeoutError' as const;
  readonly code = 'ERR_GUEST_EVENT_TIMEOUT' as const;
  /** The deadline that passed, in ms. */
  readonly timeoutMs: number;
  /** Whether the caller's signal ended the wait (rather than the deadline). */
  readonly aborted: boolean;

  constructor(
    message: string,
    details: { readonly timeoutMs: number; readonly aborted: boolean },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.timeoutMs = details.timeoutMs;
    this.aborted = details.aborted;
  }
}

/** The agent channel closed (EOF, error or `close()`) while a request or `waitReady()` was pending. */
export class GuestAgentClosedError extends VmactorError {
  override readonly name = 'GuestAgentClosedError' as const;
  readonly code = 'ERR_GUEST_AGENT_CLOSED' as const;
}

/** The guest agent answered `<id> err <message>`. */
export class GuestAgentReplyError extends VmactorError {
  override readonly name = 'GuestAgentReplyError' as const;
  readonly code = 'ERR_GUEST_AGENT_REPLY' as const;
  /** The command that failed inside the guest. */
  readonly command: string;

  constructor(command: string, message: string) {
    super(`Guest command \`${command}\` failed: ${message}`);
    this.command = command;
  }
}

/** The agent channel carried a line that is not valid protocol (bad JSON, unknown id, overlong line). */
export class GuestProtocolError extends VmactorError {
  override readonly name = 'GuestProtocolError' as const;
  readonly code = 'ERR_GUEST_PROTOCOL' as const;
}
