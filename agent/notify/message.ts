import type { AlertType, Severity } from '../../rules/index.js';
import type { AlertRow } from '../store/store.js';

/**
 * What a person is told, before it is put into words. The notifier decides *what* goes into one message
 * (grouping, storms, catch-up after an outage); `render.ts` decides *how* it reads, in the recipient's
 * language, from the catalogue in `i18n/`. Nothing here knows about WhatsApp or Telegram.
 */

/** One alert transition as one line of a message. */
export interface MessageItem {
  alert: AlertRow;
  /**
   * new: the alert was raised; resolved: it is over and the farmer would act on that (a sick cow recovered,
   * a collar sending again); reminder: still open and not acknowledged; escalation: an urgent alert the
   * first person did not acknowledge in time.
   */
  kind: 'new' | 'resolved' | 'reminder' | 'escalation';
  /** For an escalation: whose acknowledgement is missing, and for how long it has been. */
  escalation?: { notAckedBy: string[]; afterMinutes: number };
}

/** Many collars going silent (or coming back) together: one message about the likely cause. */
export interface CollarStorm {
  kind: 'offline' | 'online';
  /** collarIds involved, in a stable order. */
  collars: string[];
  /** Earliest `since` (offline) or `at` (online) among them. */
  from: number;
}

/** Everything one message to one recipient says. */
export interface MessageContent {
  /** Fresh transitions, oldest first. */
  items: MessageItem[];
  /** Transitions whose moment has passed (queued through an outage, a heat that has already ended). */
  catchUp: MessageItem[];
  /** The time the oldest catch-up item was first due to be sent, to say "earlier, since …". */
  catchUpSince?: number;
  storms: CollarStorm[];
  /** True when any fresh item is urgent: the message goes at once, through quiet hours and caps. */
  urgent: boolean;
  /** Items held back by the hourly/daily cap are in this message as a digest: say so. */
  overflow?: { heldSince: number };
}

export interface RenderContext {
  /** BCP-47 primary tag with a catalogue file in i18n/, e.g. "en", "de". */
  language: string;
  /** IANA time zone for every time in the text. */
  timezone: string;
  farmName: string;
  /**
   * Name the farm at the head of each message: one box serving several farms, where a person (a vet, a
   * contractor) may be told of more than one.
   */
  nameFarm?: boolean;
}

/** A WhatsApp message template as sent to the Cloud API (must match one approved in Meta's manager). */
export interface TemplateCall {
  name: string;
  /** Template language code as approved, e.g. "en", "de". */
  language: string;
  /** Body parameters {{1}} … {{n}}, plain text: no newlines, no tabs, no more than 4 spaces in a row. */
  params: string[];
}

export interface RenderedMessage {
  /** Plain text for chat apps and the console (≤ 1024 chars for WhatsApp interactive bodies; longer is cut by the channel). */
  text: string;
  /** The same message as an approved WhatsApp template, for when the 24-h window is closed. */
  template: TemplateCall;
  /** Button labels in the recipient's language (≤ 20 chars each). */
  buttons: { acknowledge: string; snooze: string };
}

export interface Recipient {
  name: string;
  channel: 'console' | 'whatsapp' | 'telegram';
  /** WhatsApp: phone number in international format without "+" (the wa_id); Telegram: chat id; console: unused. */
  address: string;
  language: string;
  timezone: string;
  /** Alert types this person is told about. */
  types: readonly AlertType[];
  /** Lowest severity this person is told about. */
  minSeverity: Severity;
  /** Local "HH:MM"–"HH:MM" in the recipient's time zone when only urgent messages go out; may wrap midnight. */
  quietHours?: { start: string; end: string } | undefined;
}

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, urgent: 2 };
