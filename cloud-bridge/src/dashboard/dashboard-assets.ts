import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StaticResponse } from '../http/http-api.js';
import type { CloudStore } from '../store/cloud-store.js';
import { renderDashboardPage } from './dashboard-page.js';

const here = dirname(fileURLToPath(import.meta.url));
const uplotDist = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

/**
 * Every asset the page needs, served by the bridge itself: sites are often offline from the
 * internet, so no CDN. Read once at start (a missing file is a broken install: construction throws).
 */
const FILES: Record<string, { file: string; type: string }> = {
  '/assets/uPlot.iife.min.js': { file: join(uplotDist, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uPlot.min.css': { file: join(uplotDist, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  '/assets/dashboard.js': { file: join(here, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard-alerts.js': { file: join(here, 'dashboard-alerts.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard-range.js': { file: join(here, 'dashboard-range.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard-gateway.js': { file: join(here, 'dashboard-gateway.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard-fleet-updates.js': { file: join(here, 'dashboard-fleet-updates.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard.css': { file: join(here, 'dashboard.css'), type: 'text/css; charset=utf-8' },
};

/** The dashboard's routes for CloudHttpApi's `page` hook: `/` and `/assets/…`. */
export function dashboardRoutes(store: CloudStore): (path: string) => Promise<StaticResponse | null> {
  const assets = new Map<string, StaticResponse>();
  for (const [path, { file, type }] of Object.entries(FILES)) assets.set(path, { type, body: readFileSync(file), cache: 'max-age=300' });
  return async (path) => {
    if (path === '/') {
      const series = await store.series();
      return { type: 'text/html; charset=utf-8', body: renderDashboardPage(await store.gateways(), series) };
    }
    return assets.get(path) ?? null;
  };
}
