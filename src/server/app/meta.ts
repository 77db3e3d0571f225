// Where the run app lives and how a tool points at it (MCP Apps, io.modelcontextprotocol/ui).
// Kept apart from the registration so tool files import no more than these constants.
// The two names are ext-apps' RESOURCE_MIME_TYPE and RESOURCE_URI_META_KEY, spelled out so the server
// needs no runtime dependency for them (test/app.test.ts checks them with ext-apps' own helpers).

export const RUN_APP_URI = 'ui://durable-agent/run';
export const RUN_APP_MIME_TYPE = 'text/html;profile=mcp-app';
const RESOURCE_URI_META_KEY = 'ui/resourceUri';

/**
 * `_meta` for a tool whose result the app can show: `ui.resourceUri`, plus the older flat
 * `ui/resourceUri` key that hosts built on ext-apps 0.x still read (registerAppTool sets both too).
 * Hosts without Apps ignore it; the tool's result is unchanged.
 */
export function runAppToolMeta(): Record<string, unknown> {
  return { ui: { resourceUri: RUN_APP_URI }, [RESOURCE_URI_META_KEY]: RUN_APP_URI };
}

/** `_meta` for a tool only the app calls: hosts keep it from the model (visibility ["app"]). */
export function appOnlyToolMeta(): Record<string, unknown> {
  return { ui: { resourceUri: RUN_APP_URI, visibility: ['app'] }, [RESOURCE_URI_META_KEY]: RUN_APP_URI };
}
