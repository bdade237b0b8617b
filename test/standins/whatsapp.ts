// A local stand-in for the WhatsApp Cloud API (Graph API /messages endpoint) and for Meta's
// webhook deliveries, so tests and the demo exercise the agent's real HTTP client and webhook
// handler over loopback. Shapes and error codes follow docs/chat-apis.md.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLoopback, readBody } from './http.js';

export interface ApprovedTemplate {
  name: string;
  language: string;
  /** with {{1}}..{{n}} */
  body: string;
  /** quick-reply labels */
  buttons: string[];
}

export type WaFailure =
  | { code: number; httpStatus?: number; message?: string } // a Graph API error body with this error.code
  | { drop: true } // destroy the socket without answering
  | { delayMs: number }; // answer normally, but only after this delay

export interface WaSent {
  to: string;
  type: 'template' | 'interactive' | 'text';
  wamid: string;
  body: any;
  /** what the farmer's phone would show: template body filled in, or interactive body text, plus button labels */
  shown: string;
  buttons: string[];
  at: number;
}

export interface WaRequest {
  method: string;
  path: string;
  /** 0 when the stand-in dropped the connection instead of answering */
  status: number;
  body: unknown;
  auth: string | undefined;
}

export interface WhatsAppStandIn {
  url: string;
  sent: WaSent[];
  requests: WaRequest[];
  failNext(...f: WaFailure[]): void;
  /** The service is back: forget the failures still queued. */
  clearFailures(): void;
  onSent?: (m: WaSent) => void;
  userWrites(waId: string, text: string, opts?: { contextWamid?: string }): Promise<number>;
  pressTemplateButton(waId: string, payload: string, contextWamid: string, text?: string): Promise<number>;
  pressReplyButton(waId: string, id: string, title: string, contextWamid: string): Promise<number>;
  sendStatus(wamid: string, status: 'sent' | 'delivered' | 'read' | 'failed', opts?: { errorCode?: number; title?: string }): Promise<number>;
  postWebhook(rawBody: string, signature?: string | null): Promise<number>;
  lastInboundId(): string | undefined;
  /** Meta's subscription handshake: GET webhookUrl?hub.mode=subscribe&hub.verify_token=…&hub.challenge=… */
  verifyWebhook(verifyToken: string, challenge?: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export interface WhatsAppStandInOptions {
  token: string;
  phoneNumberId: string;
  appSecret: string;
  webhookUrl?: string;
  templates?: ApprovedTemplate[];
  clock?: () => number;
  displayPhoneNumber?: string;
  /**
   * Where a closed 24-h window is reported. Meta documents that Cloud API errors may come back in the
   * HTTP response, in a `failed` status webhook, or both; 'sync' (default) answers the POST with
   * 131047, 'webhook' accepts the POST and then posts a failed status carrying 131047.
   */
  windowErrors?: 'sync' | 'webhook';
  /** The WhatsApp Business Account id used as entry[].id in webhooks. */
  wabaId?: string;
}

const WINDOW_MS = 24 * 60 * 60 * 1000;

interface GraphErrorSpec {
  status: number;
  title: string;
  type: string;
  details: string;
}

// HTTP statuses and titles as in Meta's error-code table (docs/chat-apis.md cites it); codes not
// listed fall back to 400, which is what the Graph API uses for most request errors.
const KNOWN: Record<number, GraphErrorSpec> = {
  1: { status: 400, title: 'API Unknown', type: 'OAuthException', details: 'Invalid request or possible server error.' },
  2: { status: 503, title: 'API Service', type: 'OAuthException', details: 'Temporary due to downtime or due to being overloaded.' },
  4: { status: 429, title: 'API Too Many Calls', type: 'OAuthException', details: 'The app has reached its API call rate limit.' },
  100: { status: 400, title: 'Invalid parameter', type: 'OAuthException', details: 'The request included one or more unsupported or misspelled parameters.' },
  190: { status: 401, title: 'Invalid OAuth access token - Cannot parse access token', type: 'OAuthException', details: 'Your access token has expired or is invalid.' },
  80007: { status: 429, title: 'Rate limit issues', type: 'OAuthException', details: 'The WhatsApp Business Account has reached its rate limit.' },
  130429: { status: 429, title: 'Rate limit hit', type: 'OAuthException', details: 'Cloud API message throughput has been reached.' },
  131000: { status: 500, title: 'Something went wrong', type: 'OAuthException', details: 'Message failed to send due to an unknown error.' },
  131008: { status: 400, title: 'Required parameter is missing', type: 'OAuthException', details: 'The request is missing a required parameter.' },
  131016: { status: 503, title: 'Service unavailable', type: 'OAuthException', details: 'A service is temporarily unavailable.' },
  131026: { status: 400, title: 'Message Undeliverable', type: 'OAuthException', details: 'Unable to deliver message.' },
  131047: {
    status: 400,
    title: 'Re-engagement message',
    type: 'OAuthException',
    details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  131048: { status: 429, title: 'Spam rate limit hit', type: 'OAuthException', details: 'Message failed to send because there are restrictions on how many messages can be sent from this phone number.' },
  131056: {
    status: 429,
    title: '(Business Account, Consumer Account) pair rate limit hit',
    type: 'OAuthException',
    details: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
  },
  132000: { status: 400, title: 'Number of parameters does not match the expected number of params', type: 'OAuthException', details: '' },
  132001: { status: 404, title: 'Template name does not exist in the translation', type: 'OAuthException', details: '' },
  132012: { status: 400, title: 'Parameter format does not match format in the created template', type: 'OAuthException', details: '' },
  132018: {
    status: 400,
    title: 'There was an issue with the parameters in your template.',
    type: 'OAuthException',
    details: 'Param text cannot have new-line/tab characters or more than 4 consecutive spaces',
  },
};

class GraphError extends Error {
  constructor(
    readonly code: number,
    readonly details?: string,
    readonly httpStatus?: number,
    readonly title?: string,
    readonly subcode?: number,
  ) {
    super(title ?? KNOWN[code]?.title ?? 'Error');
  }
}

function graphErrorBody(e: GraphError): { status: number; body: unknown } {
  const spec = KNOWN[e.code];
  const title = e.title ?? spec?.title ?? 'Error';
  const details = e.details ?? spec?.details ?? title;
  const error: Record<string, unknown> = {
    message: `(#${e.code}) ${title}`,
    type: spec?.type ?? 'OAuthException',
    code: e.code,
    error_data: { messaging_product: 'whatsapp', details },
    fbtrace_id: randomBytes(9).toString('base64url'),
  };
  if (e.subcode !== undefined) error.error_subcode = e.subcode;
  // The 190 body carries no error_data in the Graph API: token errors happen before WhatsApp is involved.
  if (e.code === 190) {
    error.message = title;
    delete error.error_data;
  }
  return { status: e.httpStatus ?? spec?.status ?? 400, body: { error } };
}

function isObj(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function placeholders(body: string): number {
  const seen = new Set<string>();
  for (const m of body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)) seen.add(m[1]!);
  return seen.size;
}

const BAD_PARAM_TEXT = /[\n\r\t]| {5,}/;


function sign(raw: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(raw, 'utf8').digest('hex')}`;
}

/** POST or GET to the agent; resolves with status and body (never rejects on HTTP status). */
function call(
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startWhatsAppStandIn(o: WhatsAppStandInOptions): Promise<WhatsAppStandIn> {
  const clock = o.clock ?? Date.now;
  const templates = o.templates ?? [];
  const wabaId = o.wabaId ?? '102290129340398';
  const displayPhoneNumber = o.displayPhoneNumber ?? '15550001234';
  const lastInbound = new Map<string, number>();
  const failures: WaFailure[] = [];
  let listening: { url: string; close(): Promise<void> } | undefined;
  let lastInboundWamid: string | undefined;
  let seq = 0;

  const wamid = (): string => `wamid.${randomBytes(12).toString('hex')}${(++seq).toString(36)}`;
  const windowOpen = (waId: string): boolean => {
    const t = lastInbound.get(waId);
    return t !== undefined && clock() - t < WINDOW_MS;
  };

  function validateTemplate(t: unknown): { shown: string; buttons: string[] } {
    if (!isObj(t)) throw new GraphError(100, 'The parameter template is required.');
    if (typeof t.name !== 'string' || t.name === '') throw new GraphError(100, 'The parameter template.name is required.');
    if (!isObj(t.language) || typeof t.language.code !== 'string') throw new GraphError(100, 'The parameter template.language.code is required.');
    const lang = t.language.code;
    const tpl = templates.find((x) => x.name === t.name && x.language === lang);
    if (!tpl) throw new GraphError(132001, `template name (${t.name}) does not exist in ${lang}`);
    const components: unknown[] = t.components === undefined ? [] : Array.isArray(t.components) ? t.components : [null];
    const expected = placeholders(tpl.body);
    let bodyParams: string[] | undefined;
    const seenIndex = new Set<number>();
    for (const c of components) {
      if (!isObj(c) || typeof c.type !== 'string') throw new GraphError(100, 'Each template component needs a type.');
      const type = c.type.toLowerCase();
      if (type === 'body') {
        if (bodyParams) throw new GraphError(100, 'Duplicate body component.');
        const params: unknown[] = c.parameters === undefined ? [] : Array.isArray(c.parameters) ? c.parameters : [null];
        bodyParams = params.map((p) => {
          if (!isObj(p) || p.type !== 'text') throw new GraphError(132012, 'body: parameter type must be text for this template');
          if (typeof p.text !== 'string' || p.text === '') throw new GraphError(131008, 'body: parameter text is required');
          if (BAD_PARAM_TEXT.test(p.text)) throw new GraphError(132018);
          return p.text;
        });
      } else if (type === 'button') {
        if (c.sub_type !== 'quick_reply') throw new GraphError(100, `button: sub_type must be quick_reply for template ${tpl.name}`);
        const index = typeof c.index === 'string' ? Number(c.index) : c.index;
        if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= tpl.buttons.length)
          throw new GraphError(100, `button: index ${String(c.index)} is not a button of template ${tpl.name}`);
        if (seenIndex.has(index)) throw new GraphError(100, `button: index ${index} given twice`);
        seenIndex.add(index);
        const p: unknown = Array.isArray(c.parameters) ? c.parameters[0] : undefined;
        if (!Array.isArray(c.parameters) || c.parameters.length !== 1 || !isObj(p) || p.type !== 'payload' || typeof p.payload !== 'string' || p.payload === '')
          throw new GraphError(100, 'button: parameters must be [{"type":"payload","payload":"..."}]');
      } else {
        // The approved templates here have only a body and quick replies; Meta counts any other
        // component's parameters against what the template declares (none).
        const n = Array.isArray(c.parameters) ? c.parameters.length : 0;
        throw new GraphError(132000, `${type}: number of localizable_params (${n}) does not match the expected number of params (0)`);
      }
    }
    const given = bodyParams ?? [];
    if (given.length !== expected)
      throw new GraphError(132000, `body: number of localizable_params (${given.length}) does not match the expected number of params (${expected})`);
    const filled = tpl.body.replace(/\{\{\s*(\d+)\s*\}\}/g, (_m, n: string) => given[Number(n) - 1] ?? '');
    return { shown: filled, buttons: [...tpl.buttons] };
  }

  function validateInteractive(i: unknown): { shown: string; buttons: string[] } {
    if (!isObj(i)) throw new GraphError(100, 'The parameter interactive is required.');
    if (i.type !== 'button') throw new GraphError(100, `interactive.type ${String(i.type)} is not supported by this stand-in (only "button")`);
    if (!isObj(i.body) || typeof i.body.text !== 'string' || i.body.text === '') throw new GraphError(100, 'interactive.body.text is required.');
    if ([...i.body.text].length > 1024) throw new GraphError(100, 'interactive.body.text must be at most 1024 characters.');
    if (i.footer !== undefined && (!isObj(i.footer) || typeof i.footer.text !== 'string' || [...i.footer.text].length > 60))
      throw new GraphError(100, 'interactive.footer.text must be a string of at most 60 characters.');
    if (i.header !== undefined && (!isObj(i.header) || (i.header.type === 'text' && (typeof i.header.text !== 'string' || [...i.header.text].length > 60))))
      throw new GraphError(100, 'interactive.header.text must be a string of at most 60 characters.');
    if (!isObj(i.action) || !Array.isArray(i.action.buttons)) throw new GraphError(100, 'interactive.action.buttons is required.');
    const buttons: unknown[] = i.action.buttons;
    if (buttons.length < 1 || buttons.length > 3) throw new GraphError(100, 'interactive.action.buttons must have 1 to 3 buttons.');
    const ids = new Set<string>();
    const titles = new Set<string>();
    for (const b of buttons) {
      if (!isObj(b) || b.type !== 'reply' || !isObj(b.reply)) throw new GraphError(100, 'Each button must be {"type":"reply","reply":{"id","title"}}.');
      const { id, title } = b.reply;
      if (typeof title !== 'string' || title === '' || [...title].length > 20) throw new GraphError(100, 'Button title must be 1 to 20 characters.');
      if (typeof id !== 'string' || id === '' || id.length > 256 || id.trim() !== id) throw new GraphError(100, 'Button id must be 1 to 256 characters without leading or trailing spaces.');
      if (ids.has(id)) throw new GraphError(100, 'Button ids must be unique.');
      if (titles.has(title)) throw new GraphError(100, 'Button titles must be unique.');
      ids.add(id);
      titles.add(title);
    }
    return {
      shown: i.body.text,
      buttons: buttons.map((b) => (b as { reply: { title: string } }).reply.title),
    };
  }

  function handleMessages(phoneId: string, auth: string | undefined, body: unknown): { status: number; body: unknown; sent?: WaSent; asyncWindowFailure?: boolean } {
    try {
      if (auth !== `Bearer ${o.token}`) throw new GraphError(190, undefined, 401, 'Invalid OAuth access token - Cannot parse access token');
      if (phoneId !== o.phoneNumberId)
        throw new GraphError(
          100,
          undefined,
          400,
          `Unsupported post request. Object with ID '${phoneId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
          33,
        );
      if (!isObj(body)) throw new GraphError(100, 'The request body must be a JSON object.');
      if (body.messaging_product !== 'whatsapp') throw new GraphError(100, 'The parameter messaging_product is required and must be "whatsapp".');
      if (body.recipient_type !== undefined && body.recipient_type !== 'individual') throw new GraphError(100, 'recipient_type must be "individual".');
      if (typeof body.to !== 'string' || !/^\+?\d{6,15}$/.test(body.to)) throw new GraphError(100, 'The parameter to is required and must be a phone number.');
      const to = body.to.replace(/^\+/, '');
      const type = body.type ?? 'text';
      let shown: string;
      let buttons: string[] = [];
      if (type === 'template') ({ shown, buttons } = validateTemplate(body.template));
      else if (type === 'interactive') ({ shown, buttons } = validateInteractive(body.interactive));
      else if (type === 'text') {
        if (!isObj(body.text) || typeof body.text.body !== 'string' || body.text.body === '') throw new GraphError(100, 'text.body is required.');
        if ([...body.text.body].length > 4096) throw new GraphError(100, 'text.body must be at most 4096 characters.');
        shown = body.text.body;
      } else throw new GraphError(100, `type ${String(type)} is not supported by this stand-in`);
      let asyncWindowFailure = false;
      if (type !== 'template' && !windowOpen(to)) {
        if ((o.windowErrors ?? 'sync') === 'sync') throw new GraphError(131047);
        asyncWindowFailure = true;
      }
      const id = wamid();
      const sent: WaSent = { to, type, wamid: id, body, shown: [shown, ...buttons.map((b) => `[${b}]`)].join('\n'), buttons, at: clock() };
      return {
        status: 200,
        body: { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: to }], messages: [{ id }] },
        sent,
        asyncWindowFailure,
      };
    } catch (e) {
      if (e instanceof GraphError) return graphErrorBody(e);
      throw e;
    }
  }

  const stand: WhatsAppStandIn = {
    url: '',
    sent: [],
    requests: [],
    failNext: (...f) => void failures.push(...f),
    clearFailures: () => void (failures.length = 0),
    userWrites: async (waId, text, opts) =>
      inbound(waId, {
        type: 'text',
        text: { body: text },
        ...(opts?.contextWamid ? { context: { from: displayPhoneNumber, id: opts.contextWamid } } : {}),
      }),
    pressTemplateButton: async (waId, payload, contextWamid, text) =>
      inbound(waId, { type: 'button', button: { payload, text: text ?? payload }, context: { from: displayPhoneNumber, id: contextWamid } }),
    pressReplyButton: async (waId, id, title, contextWamid) =>
      inbound(waId, {
        type: 'interactive',
        interactive: { type: 'button_reply', button_reply: { id, title } },
        context: { from: displayPhoneNumber, id: contextWamid },
      }),
    sendStatus: async (id, status, opts) => statusWebhook(id, stand.sent.find((s) => s.wamid === id)?.to ?? 'unknown', status, opts),
    postWebhook: async (raw, signature) => {
      const url = requireWebhook();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const sig = signature === undefined ? sign(raw, o.appSecret) : signature;
      if (sig !== null) headers['x-hub-signature-256'] = sig;
      return (await call(url, 'POST', headers, raw)).status;
    },
    lastInboundId: () => lastInboundWamid,
    verifyWebhook: async (verifyToken, challenge = String(randomBytes(4).readUInt32BE())) => {
      const u = new URL(requireWebhook());
      u.searchParams.set('hub.mode', 'subscribe');
      u.searchParams.set('hub.challenge', challenge);
      u.searchParams.set('hub.verify_token', verifyToken);
      return call(u.toString(), 'GET', {});
    },
    close: async () => {
      await listening?.close();
    },
  };

  function statusWebhook(id: string, to: string, status: string, opts?: { errorCode?: number; title?: string }): Promise<number> {
    const st: Record<string, unknown> = { id, status, timestamp: String(Math.floor(clock() / 1000)), recipient_id: to };
    if (status === 'failed') {
      const code = opts?.errorCode ?? 131000;
      const title = opts?.title ?? KNOWN[code]?.title ?? 'Error';
      st.errors = [{ code, title, message: title, error_data: { details: KNOWN[code]?.details ?? title } }];
    }
    return postValue({ statuses: [st] });
  }

  function requireWebhook(): string {
    if (!o.webhookUrl) throw new Error('WhatsApp stand-in: no webhookUrl given, so there is nowhere to deliver webhooks');
    return o.webhookUrl;
  }

  function postValue(extra: Record<string, unknown>): Promise<number> {
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: wabaId,
          changes: [
            {
              field: 'messages',
              value: { messaging_product: 'whatsapp', metadata: { display_phone_number: displayPhoneNumber, phone_number_id: o.phoneNumberId }, ...extra },
            },
          ],
        },
      ],
    };
    return stand.postWebhook(JSON.stringify(payload));
  }

  function inbound(waId: string, content: Record<string, unknown>): Promise<number> {
    const id = wamid();
    lastInboundWamid = id;
    // The window opens when the user's message reaches Meta, whether or not the agent accepts the webhook.
    lastInbound.set(waId, clock());
    const msg = { from: waId, id, timestamp: String(Math.floor(clock() / 1000)), ...content };
    return postValue({ contacts: [{ profile: { name: `Farmer ${waId.slice(-4)}` }, wa_id: waId }], messages: [msg] });
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const raw = await readBody(req);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const auth = req.headers.authorization;
      let parsed: unknown;
      let json = true;
      try {
        parsed = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        // keep the raw text in the log; validation below answers with a Graph error
        parsed = raw;
        json = false;
      }
      const m = /^\/(v\d+\.\d+)\/([^/]+)\/messages\/?$/.exec(path);
      const record = (status: number): void => void stand.requests.push({ method: req.method ?? '', path, status, body: parsed, auth });
      const answer = (status: number, body: unknown): void => {
        record(status);
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(body));
      };
      if (!m || req.method !== 'POST') {
        const e = graphErrorBody(new GraphError(100, undefined, 400, `Unknown path components: ${path}`, 2500));
        answer(e.status, e.body);
        return;
      }
      const failure = failures.shift();
      if (failure && 'drop' in failure) {
        record(0);
        req.socket.destroy();
        return;
      }
      if (failure && 'delayMs' in failure) await new Promise((r) => setTimeout(r, failure.delayMs));
      if (failure && 'code' in failure) {
        const e = graphErrorBody(new GraphError(failure.code, undefined, failure.httpStatus, failure.message));
        answer(e.status, e.body);
        return;
      }
      const out = handleMessages(m[2]!, auth, json ? parsed : null);
      answer(out.status, out.body);
      if (out.sent) {
        if (out.asyncWindowFailure) {
          // Meta accepted the request but could not deliver it: the farmer sees nothing.
          const { wamid: id, to } = out.sent;
          setImmediate(() => void statusWebhook(id, to, 'failed', { errorCode: 131047 }).catch(() => undefined));
          return;
        }
        stand.sent.push(out.sent);
        stand.onSent?.(out.sent);
      }
    })().catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      }
    });
  });
  listening = await listenLoopback(server);
  stand.url = listening.url;
  return stand;
}
