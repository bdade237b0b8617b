import { DeliveryError } from '../errors.js';
import { alertToJson, type AlertRow } from '../store/store.js';
import { formatAlert, type FormatOptions } from './format.js';

/**
 * A channel delivers one alert transition to one destination. It throws a DeliveryError: `retryable` for
 * "try again later" (network down, rate limited), not retryable for "this will never work" (bad recipient).
 */
export interface Channel {
  readonly name: string;
  send(alert: AlertRow): Promise<void>;
}

/** Prints the message as the farmer would read it; the demo's channel. */
export class ConsoleChannel implements Channel {
  readonly name = 'console';
  constructor(
    private readonly format: FormatOptions,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  async send(alert: AlertRow): Promise<void> {
    const mark = alert.state === 'resolved' ? '✓' : alert.severity === 'urgent' ? '‼' : alert.severity === 'warning' ? '!' : 'i';
    const text = formatAlert(alert, this.format).replace(/\n/g, '\n    ');
    this.out.write(`\n[${mark}] ${text}\n`);
  }
}

/** Publishes the alert as JSON on farm/{farmId}/alert/{type}: the integration point for Home Assistant and Node-RED. */
export class MqttAlertChannel implements Channel {
  readonly name = 'mqtt';
  constructor(private readonly publish: (topic: string, payload: string) => Promise<void>) {}

  async send(alert: AlertRow): Promise<void> {
    try {
      await this.publish(`farm/${alert.farmId}/alert/${alert.type}`, JSON.stringify(alertToJson(alert)));
    } catch (err) {
      // An MQTT 5 PUBACK with a reason code of 0x80 or more is the broker saying no (e.g. its ACL): final.
      const code = (err as { code?: unknown }).code;
      const refused = typeof code === 'number' && code >= 0x80;
      throw new DeliveryError(`MQTT publish ${refused ? 'refused' : 'failed'}: ${(err as Error).message}`, !refused, { cause: err });
    }
  }
}
