// The sandbox proxy of the test host, served from another origin than the host page (as Claude and
// ext-apps' basic-host do): it tells the host it is ready, loads the app's HTML it is sent into an
// inner sandboxed frame under a CSP built from the resource's `_meta.ui.csp`, and relays every
// other message both ways.
interface Rpc {
  jsonrpc?: string;
  method?: string;
  params?: { html?: string; sandbox?: string; csp?: { connectDomains?: string[]; resourceDomains?: string[] } };
}

const inner = document.createElement('iframe');
inner.id = 'app';
inner.title = 'MCP App';

/** The CSP a host puts around an app: nothing beyond what `_meta.ui.csp` declares. */
function hostCsp(csp: NonNullable<Rpc['params']>['csp']): string {
  const resources = (csp?.resourceDomains ?? []).join(' ');
  const connect = (csp?.connectDomains ?? []).join(' ') || "'none'";
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`,
    `style-src 'unsafe-inline' ${resources}`,
    `img-src data: ${resources}`,
    `font-src data: ${resources}`,
    `connect-src ${connect}`,
    "frame-src 'none'",
    "base-uri 'none'",
  ].join('; ');
}

window.addEventListener('message', (event: MessageEvent<Rpc>) => {
  if (event.source === window.parent) {
    const msg = event.data;
    if (msg?.method === 'ui/notifications/sandbox-resource-ready') {
      const html = msg.params?.html ?? '';
      const meta = `<meta http-equiv="Content-Security-Policy" content="${hostCsp(msg.params?.csp)}">`;
      inner.setAttribute('sandbox', msg.params?.sandbox ?? 'allow-scripts allow-forms');
      inner.srcdoc = html.replace(/<head>/i, `<head>${meta}`);
      document.body.append(inner);
      return;
    }
    inner.contentWindow?.postMessage(msg, '*');
  } else if (event.source === inner.contentWindow) {
    window.parent.postMessage(event.data, '*');
  }
});

window.parent.postMessage({ jsonrpc: '2.0', method: 'ui/notifications/sandbox-proxy-ready', params: {} }, '*');
