// TypeScript views of the protobuf messages in proto/ (snake_case, as protobufjs keeps the .proto names).

/** `google.protobuf.Timestamp`. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** `google.protobuf.Any`; containerd's type URLs are bare full names (`containerd.events.TaskExit`). */
export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** `google.rpc.Status`. */
export interface RpcStatus {
  code: number;
  message: string;
  details?: AnyMessage[];
}

/** `containerd.types.Mount`. */
export interface Mount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

/** `containerd.v1.types.Status`: a task's or process's state. */
export const TASK_STATUS = { UNKNOWN: 0, CREATED: 1, RUNNING: 2, STOPPED: 3, PAUSED: 4, PAUSING: 5 } as const;

/** A numeric {@link TASK_STATUS}. */
export type TaskStatus = (typeof TASK_STATUS)[keyof typeof TASK_STATUS];

interface IdOnly {
  id: string;
}
interface ProcessRef {
  id: string;
  exec_id: string;
}
interface Exited {
  exit_status: number;
  exited_at?: Timestamp | null;
}

/** Every message the shim encodes or decodes, by its full protobuf name. */
export interface ShimMessages {
  'ttrpc.Request': {
    service: string;
    method: string;
    payload: Uint8Array;
    timeout_nano: number;
    metadata: { key: string; value: string }[];
  };
  'ttrpc.Response': { status?: RpcStatus | null; payload: Uint8Array };
  'google.protobuf.Empty': Record<string, never>;
  'containerd.task.v2.CreateTaskRequest': {
    id: string;
    bundle: string;
    rootfs: Mount[];
    terminal: boolean;
    stdin: string;
    stdout: string;
    stderr: string;
    checkpoint: string;
    parent_checkpoint: string;
    options?: AnyMessage | null;
  };
  'containerd.task.v2.CreateTaskResponse': { pid: number };
  'containerd.task.v2.StartRequest': ProcessRef;
  'containerd.task.v2.StartResponse': { pid: number };
  'containerd.task.v2.DeleteRequest': ProcessRef;
  'containerd.task.v2.DeleteResponse': { pid: number } & Exited;
  'containerd.task.v2.ExecProcessRequest': ProcessRef & {
    terminal: boolean;
    stdin: string;
    stdout: string;
    stderr: string;
    spec?: AnyMessage | null;
  };
  'containerd.task.v2.StateRequest': ProcessRef;
  'containerd.task.v2.StateResponse': ProcessRef & {
    bundle: string;
    pid: number;
    status: TaskStatus;
    stdin: string;
    stdout: string;
    stderr: string;
    terminal: boolean;
  } & Exited;
  'containerd.task.v2.KillRequest': ProcessRef & { signal: number; all: boolean };
  'containerd.task.v2.CloseIORequest': ProcessRef & { stdin: boolean };
  'containerd.task.v2.PidsRequest': IdOnly;
  'containerd.task.v2.PidsResponse': { processes: { pid: number; info?: AnyMessage | null }[] };
  'containerd.task.v2.WaitRequest': ProcessRef;
  'containerd.task.v2.WaitResponse': Exited;
  'containerd.task.v2.StatsRequest': IdOnly;
  'containerd.task.v2.StatsResponse': { stats?: AnyMessage | null };
  'containerd.task.v2.ConnectRequest': IdOnly;
  'containerd.task.v2.ConnectResponse': { shim_pid: number; task_pid: number; version: string };
  'containerd.task.v2.ShutdownRequest': IdOnly & { now: boolean };
  'containerd.task.v2.PauseRequest': IdOnly;
  'containerd.task.v2.ResumeRequest': IdOnly;
  'containerd.services.events.ttrpc.v1.ForwardRequest': {
    envelope: { timestamp: Timestamp; namespace: string; topic: string; event: AnyMessage };
  };
  'containerd.events.TaskCreate': {
    container_id: string;
    bundle: string;
    rootfs: Mount[];
    io: { stdin: string; stdout: string; stderr: string; terminal: boolean };
    checkpoint: string;
    pid: number;
  };
  'containerd.events.TaskStart': { container_id: string; pid: number };
  'containerd.events.TaskExit': { container_id: string; id: string; pid: number } & Exited;
  'containerd.events.TaskDelete': { container_id: string; id: string; pid: number } & Exited;
  'containerd.events.TaskExecAdded': { container_id: string; exec_id: string };
  'containerd.events.TaskExecStarted': { container_id: string; exec_id: string; pid: number };
  'containerd.events.TaskPaused': { container_id: string };
  'containerd.events.TaskResumed': { container_id: string };
  'containerd.events.TaskOOM': { container_id: string };
  /** cgroup v2 metrics (what runc's shim reports for a cgroup v2 container); the fields the guest has. */
  'io.containerd.cgroups.v2.Metrics': {
    pids?: { current: number; limit: number } | null;
    cpu?: Partial<
      Record<
        'usage_usec' | 'user_usec' | 'system_usec' | 'nr_periods' | 'nr_throttled' | 'throttled_usec',
        number
      >
    > | null;
    memory?: Partial<Record<string, number>> | null;
    memory_events?: Partial<Record<'low' | 'high' | 'max' | 'oom' | 'oom_kill', number>> | null;
  };
}
