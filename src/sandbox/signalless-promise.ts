// xstate's fromPromise without the per-actor AbortController: for effects that take no signal.
import { fromPromise, type PromiseActorLogic } from 'xstate';

/**
 * Like xstate's `fromPromise`, for a promise that must not be cancelled (QMP `stop`/`cont`: the
 * reply is still consumed after the state moved on). `fromPromise` makes an `AbortController`
 * per invocation and aborts it when the actor stops (an `AbortError` `DOMException` with a stack):
 * about a quarter of a pause's time in the machine. Same snapshots, same done/error events.
 *
 * @example
 * ```ts
 * pauseVm: signallessPromise(async () => { await qmp.execute('stop'); }),
 * ```
 */
export function signallessPromise<O, I>(
  creator: (args: { readonly input: I }) => PromiseLike<O>,
): PromiseActorLogic<O, I> {
  const logic = fromPromise<O, I>(({ input }) => creator({ input }));
  return {
    ...logic,
    start: (state, { self }) => {
      if (state.status !== 'active') return;
      Promise.resolve(creator({ input: state.input as I })).then(
        (data) => {
          if (self.getSnapshot().status === 'active') self.send({ type: 'xstate.promise.resolve', data });
        },
        (data: unknown) => {
          if (self.getSnapshot().status === 'active') self.send({ type: 'xstate.promise.reject', data });
        },
      );
    },
  };
}
