import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

interface ClusterMessage {
  cmd?: string;
  act?: string;
  seq?: number;
  ack?: number;
}
interface Closable {
  close(): void;
}
type Send = (message: unknown, handle?: unknown, ...rest: unknown[]) => boolean;

/**
 * Node's round-robin scheduling hands each new connection to a worker and keeps its own copy of
 * the socket until the worker says it took it. A worker that dies in between (kill -9, out of
 * memory) never says so, and Node keeps that copy open for good: the client waits forever, with
 * neither an answer nor a reset (seen once per kill -9 under a stream of new connections). This
 * notes every connection the primary sends a worker, forgets it when the worker answers, and
 * closes what is left when the worker exits: the client sees a reset, which it can retry.
 */
function closeUnclaimedConnectionsOnExit(worker: Worker) {
  const unclaimed = new Map<number, Closable>();
  const child = worker.process as unknown as { send: Send; on(event: 'internalMessage', listener: (message: ClusterMessage) => void): void };
  const send = child.send.bind(child);
  child.send = (message, handle, ...rest) => {
    const m = message as ClusterMessage;
    if (handle && m.cmd === 'NODE_CLUSTER' && m.act === 'newconn' && m.seq !== undefined) unclaimed.set(m.seq, handle as Closable);
    return send(message, handle, ...rest);
  };
  child.on('internalMessage', (message) => {
    if (message?.cmd === 'NODE_CLUSTER' && message.ack !== undefined) unclaimed.delete(message.ack);
  });
  worker.once('exit', () => {
    for (const handle of unclaimed.values()) handle.close();
    unclaimed.clear();
  });
}

// A worker tells the primary that its listener is closed; the primary tells every worker once all are.
const LISTENER_CLOSED = 'task-management-api:listener-closed';
const ALL_LISTENERS_CLOSED = 'task-management-api:all-listeners-closed';
// Should the primary not answer (it is being killed, say), a worker goes on after this.
const ALL_CLOSED_WAIT_MS = 2000;

const isMessage = (message: unknown, cmd: string) => (message as { cmd?: unknown } | null)?.cmd === cmd;

/**
 * In a worker, once its listener is closed: resolves when every worker's is. Until then the
 * primary still accepts connections and hands them to the workers still listening; a worker that
 * told its clients `Connection: close` before that would send them reconnecting into that window,
 * where a connection handed to a worker just as it closes is held by the primary and reset when it
 * exits. Outside a cluster it resolves at once.
 */
export function allListenersClosed(): Promise<void> {
  if (!cluster.isWorker) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve();
    };
    const onMessage = (message: unknown) => isMessage(message, ALL_LISTENERS_CLOSED) && done();
    const timer = setTimeout(done, ALL_CLOSED_WAIT_MS);
    process.on('message', onMessage);
    process.send!({ cmd: LISTENER_CLOSED });
  });
}

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** How long the workers' own stop may take (drain and grace); past it, and a little more, they are killed. */
  stopWithinMs: number;
  /** Called once every worker has exited after a signal, before the process exits. */
  onStopped?: () => void;
}

// Time for a worker to close its pools and exit after its grace period.
const STOP_MARGIN_MS = 3000;

/**
 * The cluster primary: starts the workers and replaces one that dies, but stops (exit 1) when a
 * worker exits before it ever listened, since its replacement would fail the same way (the port
 * is taken, the address cannot be bound: the worker's own log line says which). On SIGTERM or
 * SIGINT it passes the signal on and exits once every worker has: 0 when all stopped cleanly.
 */
export function runPrimary({ workers, logger, stopWithinMs, onStopped }: PrimaryOptions) {
  const running = new Map<number, Worker>();
  const listening = new Set<number>();
  const closedListeners = new Set<number>();
  const tellWhenAllClosed = () => {
    if (closedListeners.size === 0 || [...running.keys()].some((id) => !closedListeners.has(id))) return;
    for (const worker of running.values()) worker.send({ cmd: ALL_LISTENERS_CLOSED });
    closedListeners.clear();
  };
  let stopping: NodeJS.Signals | undefined;
  let failed = false;

  const fork = () => {
    const worker = cluster.fork();
    running.set(worker.id, worker);
    closeUnclaimedConnectionsOnExit(worker);
    worker.once('listening', () => listening.add(worker.id));
    worker.on('message', (message) => {
      if (!isMessage(message, LISTENER_CLOSED)) return;
      closedListeners.add(worker.id);
      tellWhenAllClosed();
    });
  };
  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = signal;
    for (const worker of running.values()) worker.process.kill(signal);
    setTimeout(() => {
      for (const worker of running.values()) worker.process.kill('SIGKILL');
      logger.error({ after_ms: stopWithinMs + STOP_MARGIN_MS }, 'workers did not stop in time: killed');
      process.exit(1);
    }, stopWithinMs + STOP_MARGIN_MS).unref();
  };

  cluster.on('exit', (worker, code, signal) => {
    running.delete(worker.id);
    closedListeners.delete(worker.id);
    tellWhenAllClosed();
    const started = listening.delete(worker.id);
    const exit = { worker_pid: worker.process.pid, code, signal };
    if (stopping) {
      // A worker still starting has no handler yet, and ends by the signal itself: that is a clean stop too.
      if (code !== 0 && signal !== stopping) failed = true;
    } else if (!started) {
      logger.fatal(exit, 'a worker exited before it could serve (its log says why): stopping');
      failed = true;
      stopAll('SIGTERM');
    } else {
      logger.error(exit, 'worker exited; starting another');
      fork();
    }
    if (stopping && running.size === 0) {
      onStopped?.();
      process.exit(failed ? 1 : 0);
    }
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stopAll(signal));
  for (let i = 0; i < workers; i++) fork();
}
