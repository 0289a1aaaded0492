// What the engine asks of a container runtime: create, start, kill, delete, and the init's end.
export interface InitEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CreatedInit {
  pid: number;
  /** The pty master of a container made with a terminal. */
  terminalMaster?: number;
  /** Resolves when the init (the container's PID 1) has ended and been reaped. */
  ended: Promise<InitEnd>;
}

export interface CreateRequest {
  id: string;
  bundle: string;
  /** The container's stdin, stdout and stderr: 'inherit' is ours, 'ignore' is /dev/null, a number is an fd. */
  stdio: Array<'inherit' | 'ignore' | number>;
  terminal: boolean;
  /** A directory of the container's own for the runtime's files (pid file, log). */
  workDir: string;
}

/** The runtime refused; `message` is what it said. */
export class RuntimeCallError extends Error {
  constructor(
    message: string,
    /** The runtime printed it itself, on the stderr it shares with the container. */
    readonly shown = false,
  ) {
    super(message);
  }
}

export interface ContainerRuntime {
  create(request: CreateRequest): Promise<CreatedInit>;
  start(id: string): void;
  kill(id: string, signal: string): void;
  delete(id: string, force: boolean): void;
}
