/**
 * Progress: how far long work has got (a fetch, reading and validating templates, waiting on change
 * sets or drift detections), for a person watching a terminal. Use cases take an optional listener
 * and call it as they go; without one (Lambda, `serve`, tests) nothing is reported. Only the CLI
 * renders it (lib/cli/progress.ts), on a terminal, after a phase has run for two seconds.
 *
 * A phase ends with `{ phase, finished: true }`, whether its work succeeded or threw: sent by the
 * use case that reported it, except for loadDesired's `templates`, which its caller ends (the CLI,
 * the only one that listens). A report of another phase also ends the one before.
 */

export type ProgressPhase = Progress['phase'];

export type Progress =
  | {
      phase: 'fetch';
      /** The repository's URL, without credentials. */
      url: string;
      /** Bytes of pack received so far. */
      bytes: number;
      /** The fetch's current step, with its count when it gives one. */
      stage?: string;
      loaded?: number;
      total?: number;
      finished?: undefined;
    }
  | { phase: 'templates'; step: 'reading' | 'validating'; done: number; total: number; finished?: undefined }
  | {
      /**
       * change-sets: previews (plan, and apply's plan) CloudFormation is still computing; apply: the
       * stacks whose change sets `cairn apply`'s last step made or ran; drift: detections running.
       */
      phase: WaitingPhase;
      /** The stacks' ids. */
      waiting: readonly string[];
      finished?: undefined;
    }
  | { phase: 'fetch' | 'templates' | WaitingPhase; finished: true };

export type WaitingPhase = 'change-sets' | 'apply' | 'drift';

export type ProgressListener = (progress: Progress) => void;

/** The stacks a phase is waiting on, reported whenever one starts or stops being waited on. */
export interface Waiting {
  /** `work`, with the item's id waited on while it runs. */
  track<T extends { id: string }>(work: (item: T) => Promise<void>): (item: T) => Promise<void>;
  add(id: string): void;
  remove(id: string): void;
  /** The phase is over: reported once, and nothing after it (work that failed may still be settling). */
  end(): void;
}

export function waitingOn(listener: ProgressListener | undefined, phase: WaitingPhase): Waiting {
  const waiting = new Set<string>();
  let ended = false;
  const report = (): void => {
    if (!ended) listener?.({ phase, waiting: [...waiting] });
  };
  const self: Waiting = {
    track: (work) => async (item) => {
      self.add(item.id);
      try {
        await work(item);
      } finally {
        self.remove(item.id);
      }
    },
    add: (id) => {
      waiting.add(id);
      report();
    },
    remove: (id) => {
      waiting.delete(id);
      report();
    },
    end: () => {
      if (ended) return;
      ended = true;
      listener?.({ phase, finished: true });
    },
  };
  return self;
}
