// A small MCP Apps host page, as a chat client embeds apps: an SDK v2 Client talks Streamable HTTP to
// the server (same-origin /mcp, relayed by the test to the built CLI); when a tool with
// `_meta.ui.resourceUri` has been called, the host reads that resource, loads it into a sandbox proxy
// on another origin, and bridges it to the client with ext-apps' AppBridge, then sends the tool's
// input and result. The test drives it through `window.host`.
import { Client, StreamableHTTPClientTransport, type CallToolResult, type Tool } from '@modelcontextprotocol/client';
import {
  AppBridge,
  getToolUiResourceUri,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  type McpUiHostContext,
  type McpUiResourceCsp,
} from '@modelcontextprotocol/ext-apps/app-bridge';

interface Host {
  /** Calls a tool as the model would and, when it has an app, shows the app with its result. */
  show(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Calls a tool without showing anything. */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  setTheme(theme: 'light' | 'dark'): void;
  tools(): Tool[];
  protocolVersion(): string | undefined;
}

declare global {
  interface Window {
    host?: Host;
    hostError?: string;
  }
}

const HOST_INFO = { name: 'browser-test-host', version: '1.0.0' };
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get('token') ?? '';
const sandboxUrl = params.get('sandbox') ?? '';
const slot = document.getElementById('slot') as HTMLElement;

let context: McpUiHostContext = {
  theme: params.get('theme') === 'dark' ? 'dark' : 'light',
  platform: 'web',
  displayMode: 'inline',
  availableDisplayModes: ['inline'],
  locale: 'en-GB',
  timeZone: 'UTC',
};
let current: { bridge: AppBridge; frame: HTMLIFrameElement } | undefined;

function applyHostTheme(): void {
  document.documentElement.dataset.theme = context.theme ?? 'light';
}

async function main(): Promise<void> {
  applyHostTheme();
  // #era=modern pins 2026-07-28; otherwise the default 2025-11-25 handshake.
  const client = new Client(HOST_INFO, {
    capabilities: { extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: [RESOURCE_MIME_TYPE] } } },
    ...(params.get('era') === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', location.origin), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  const { tools } = await client.listTools();

  const call = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;

  async function mount(uri: string, tool: Tool, args: Record<string, unknown>, result: CallToolResult): Promise<void> {
    if (current) {
      await current.bridge.teardownResource({}).catch(() => undefined);
      await current.bridge.close().catch(() => undefined);
      current.frame.remove();
      current = undefined;
    }
    const read = await client.readResource({ uri });
    const content = read.contents[0];
    if (!content || content.mimeType !== RESOURCE_MIME_TYPE || !('text' in content)) throw new Error(`${uri} is not an MCP App`);
    const ui = (content._meta as { ui?: { csp?: McpUiResourceCsp } } | undefined)?.ui;

    const frame = document.createElement('iframe');
    frame.id = 'app-frame';
    frame.title = tool.title ?? tool.name;
    frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms');
    frame.src = sandboxUrl;
    slot.append(frame);

    context = { ...context, toolInfo: { tool }, containerDimensions: { maxHeight: 4000, width: slot.clientWidth } };
    const bridge = new AppBridge(client, HOST_INFO, { serverTools: {}, serverResources: {}, logging: {} }, { hostContext: context });
    bridge.onsizechange = ({ height }) => {
      if (height !== undefined) frame.style.height = `${Math.ceil(height)}px`;
    };
    const sandboxReady = new Promise<void>((resolve) => bridge.addEventListener('sandboxready', () => resolve()));
    const initialized = new Promise<void>((resolve) => bridge.addEventListener('initialized', () => resolve()));
    await bridge.connect(new PostMessageTransport(frame.contentWindow!, frame.contentWindow!));
    await sandboxReady;
    await bridge.sendSandboxResourceReady({ html: content.text, ...(ui?.csp ? { csp: ui.csp } : {}) });
    await initialized;
    await bridge.sendToolInput({ arguments: args });
    await bridge.sendToolResult(result);
    current = { bridge, frame };
  }

  window.host = {
    async show(name, args) {
      const tool = tools.find((t) => t.name === name);
      if (!tool) throw new Error(`no tool ${name}`);
      const result = await call(name, args);
      const uri = getToolUiResourceUri(tool);
      if (uri) await mount(uri, tool, args, result);
      return result;
    },
    call,
    setTheme(theme) {
      context = { ...context, theme };
      applyHostTheme();
      current?.bridge.setHostContext(context);
    },
    tools: () => tools,
    protocolVersion: () => client.getNegotiatedProtocolVersion(),
  };
}

main().catch((err: unknown) => {
  window.hostError = err instanceof Error ? (err.stack ?? err.message) : String(err);
});
