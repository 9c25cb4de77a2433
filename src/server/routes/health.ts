import { isReady } from '../../store/index.js';
import { UnavailableError } from '../../core/index.js';
import type { ServerDeps } from '../deps.js';
import { defineRoute } from '../route.js';

export function healthRoutes({ store, metrics }: ServerDeps) {
  return [
    defineRoute({
      method: 'GET',
      url: '/healthz',
      tag: 'health',
      summary: 'Liveness: the process answers',
      auth: 'none',
      handler: () => Promise.resolve({ status: 'ok' }),
    }),
    defineRoute({
      method: 'GET',
      url: '/readyz',
      tag: 'health',
      summary: 'Readiness: the store answers and every migration is applied',
      auth: 'none',
      async handler() {
        const ready = await isReady(store);
        if (!ready.ready) throw new UnavailableError(`not ready: ${ready.reason ?? 'unknown'}`);
        return { status: 'ready', store: store.dialect };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/metrics',
      tag: 'health',
      summary: 'Prometheus metrics',
      auth: 'required',
      permission: 'metrics:read',
      async handler({ reply }) {
        void reply.type(metrics.contentType);
        return metrics.render();
      },
    }),
  ];
}
