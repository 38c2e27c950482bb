// Every view of the activation panel, in tab order: its title, how it draws a run, and how it
// forgets what it fetched for the previous run. To add a view: add its name to ACTIVATION_VIEWS
// (src/protocol/activation.ts), write views/<name>.ts, and add its entry here.
import type { ActivationView, ActRun } from '../../../src/protocol/activation';
import { renderAttention } from './attentionGrid';
import { renderCompare, resetCompare } from './compare';
import { renderExperiment } from './experiment';
import { resetHeadPattern } from './headPattern';
import { renderLogitLens, resetLogitLens } from './logitLens';
import { renderLoss } from './loss';
import { renderNeurons, resetNeurons } from './neurons';
import { renderResidual } from './residual';
import { renderSteering } from './steering';

export interface ViewEntry {
  readonly title: string;
  /** Draws the view for `r` into the view area (cleared before). */
  render(r: ActRun): void | Promise<void>;
  /** Drops what the view memoised for the previous run. */
  reset?(): void;
}

export const VIEWS: Record<ActivationView, ViewEntry> = {
  attention: { title: 'Attention', render: renderAttention, reset: resetHeadPattern },
  neurons: { title: 'Neurons', render: renderNeurons, reset: resetNeurons },
  logitLens: { title: 'Logit lens', render: renderLogitLens, reset: resetLogitLens },
  residual: { title: 'Residual stream', render: renderResidual },
  loss: { title: 'Loss', render: renderLoss },
  // Drawn from the last act/experiment, not from the run: it shows even before any run.
  experiment: { title: 'Experiment', render: renderExperiment },
  steering: { title: 'Steering', render: renderSteering },
  compare: { title: 'Compare', render: renderCompare, reset: resetCompare },
};
