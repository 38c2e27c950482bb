// The panel's fixed skeleton: header, actions, notices, token strip, tabs and the view area.
// Modules fill these elements; only main.ts decides what goes in them when.
import { el } from '../shared/ui';

export const app = document.getElementById('app')!;
export const header = el('header', 'act-header');
export const title = el('h1', 'act-title', 'Activations');
export const source = el('span', 'act-source');
export const modelBadge = el('span', 'model-badge');
modelBadge.dataset.testid = 'model-label';
// Which from_pretrained processing produced the numbers, in TransformerLens's words.
export const processingBadge = el('code', 'processing-badge');
processingBadge.dataset.testid = 'processing-label';
export const meanLoss = el('span', 'mean-loss');
meanLoss.dataset.testid = 'mean-loss';
export const actions = el('div', 'act-actions');
export const ablationList = el('span', 'ablations');
ablationList.dataset.testid = 'ablations';
export const status = el('div', 'status');
status.setAttribute('role', 'status');
status.dataset.testid = 'status';
export const notice = el('div', 'note truncation');
notice.dataset.testid = 'truncation';
export const strip = el('div', 'token-strip');
strip.dataset.testid = 'tokens';
export const tabs = el('div', 'tabs');
tabs.setAttribute('role', 'tablist');
export const viewRoot = el('main', 'view');
viewRoot.dataset.testid = 'view';
header.append(title, source, modelBadge, processingBadge, meanLoss);
app.append(header, actions, notice, status, strip, tabs, viewRoot);
