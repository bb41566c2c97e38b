// Container selectors: comma lists with ! exclusion, and pod label selectors with upstream's syntax and message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasSelector, labelSelectorError, matches, parseLabelSelector, selectorText, type ContainerSelector } from './container-selector.js';
import type { Container } from '../../containers/index.js';

const c = (labels: Record<string, string>, ns = 'shop', pod = 'web-1', name = 'nginx'): Container => ({
  runtime: 'containerd', id: 'x', name, imageName: '', imageDigest: '', pid: 1, mntns: 1n, netns: 1, cgroupPath: '', cgroupId: 0n,
  startedAt: 0, labels: {}, pidStartTime: 0n, k8s: { namespace: ns, podName: pod, containerName: name, podUid: 'u', podLabels: labels },
});
const sel = (o: Partial<ContainerSelector>): ContainerSelector => ({ names: [], k8sNamespaces: [], k8sPods: [], k8sContainers: [], imageDigests: [], imageNames: [], ...o });

test('label selectors: key=value pairs all required; key=!value and !key=value exclude; value lists', () => {
  const web = c({ app: 'web', tier: 'front' });
  const db = c({ app: 'db' });
  const none = c({});
  const m = (s: string, x: Container) => matches(sel({ podLabels: parseLabelSelector(s) }), x);
  assert.equal(m('app=web', web), true);
  assert.equal(m('app=web', db), false);
  assert.equal(m('app=web,tier=front', web), true);
  assert.equal(m('app=web,tier=back', web), false);
  assert.equal(m('app=!web', web), false);
  assert.equal(m('app=!web', db), true);
  assert.equal(m('app=!web', none), false); // the key must be there (upstream)
  assert.equal(m('!app=web', web), false);
  assert.equal(m('!app=web', db), true);
  assert.equal(m('!app=web', none), true);
  assert.equal(m('', none), true);
});

test('a bad label selector is one line naming the pair; good ones pass', () => {
  assert.equal(labelSelectorError('app=web,tier=front'), undefined);
  assert.equal(labelSelectorError(''), undefined);
  assert.equal(labelSelectorError('app'), '"app" should be a comma-separated list of key-value pairs (key=value[,key=value,...])');
  assert.equal(labelSelectorError('app=web,x=y=z'), '"x=y=z" should be a comma-separated list of key-value pairs (key=value[,key=value,...])');
  assert.equal(labelSelectorError('=web'), '"=web" should be a comma-separated list of key-value pairs (key=value[,key=value,...])');
});

test('names, namespaces, pods with ! exclusion; text of a selector', () => {
  assert.equal(matches(sel({ k8sNamespaces: ['!kube-system'] }), c({})), true);
  assert.equal(matches(sel({ k8sNamespaces: ['kube-system'] }), c({})), false);
  assert.equal(matches(sel({ k8sPods: ['web-1', 'web-2'], k8sContainers: ['nginx'] }), c({})), true);
  assert.equal(hasSelector(sel({})), false);
  assert.equal(hasSelector(sel({ podLabels: parseLabelSelector('a=b') })), true);
  assert.equal(selectorText(sel({ k8sNamespaces: ['shop'], podLabels: parseLabelSelector('!app=web') }), { k8sNamespaces: '-n', podLabels: '-l' }), '-n shop -l !app=web');
});
