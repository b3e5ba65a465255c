import { MtlsError } from "../errors/index.js";
import type { CertificateInfo } from "./x509-parse.js";

/** A renewal window: a number of days before expiry, or a share of the whole validity. */
export type RenewalWindow = { days: number } | { percent: number };

/** Default window: renew 30 days ahead. */
export const DEFAULT_RENEWAL_WINDOW: RenewalWindow = { days: 30 };

/** Parses `30d` or `20%` (a bare number means days). `VALIDITY_INVALID` otherwise. */
export function parseRenewalWindow(text: string): RenewalWindow {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(d|%)?\s*$/i.exec(text);
  if (!m) throw new MtlsError("VALIDITY_INVALID", `'${text}' is not a renewal window`, { hint: "Write it as days (30d) or as a share of the validity (20%)." });
  const n = Number(m[1]);
  if (m[2] === "%") {
    if (n <= 0 || n > 100) throw new MtlsError("VALIDITY_INVALID", `'${text}': a share of the validity is between 0% and 100%`);
    return { percent: n };
  }
  return { days: n };
}

/** The answer of {@link needsRenewal}. */
export interface RenewalStatus {
  /** True when the certificate is inside the renewal window or expired. */
  readonly due: boolean;
  readonly expired: boolean;
  readonly notYetValid: boolean;
  /** When the window opens. */
  readonly renewFrom: Date;
  readonly notAfter: Date;
  /** Whole days left until notAfter (negative once expired). */
  readonly daysLeft: number;
  /** One sentence saying when. */
  readonly message: string;
}

const DAY = 86_400_000;

/** Whether a certificate should be renewed now, given a window. */
/** `1 day`, `0 days`, `30 days`: a count of days with the right plural. */
export function dayCount(n: number): string {
  return `${n} ${Math.abs(n) === 1 ? "day" : "days"}`;
}

export function needsRenewal(cert: CertificateInfo, window: RenewalWindow = DEFAULT_RENEWAL_WINDOW, now = new Date()): RenewalStatus {
  const total = cert.notAfter.getTime() - cert.notBefore.getTime();
  const lead = "days" in window ? window.days * DAY : (total * window.percent) / 100;
  const renewFrom = new Date(cert.notAfter.getTime() - lead);
  const left = cert.notAfter.getTime() - now.getTime();
  const daysLeft = Math.trunc(left / DAY);
  const expired = left <= 0;
  const notYetValid = now.getTime() < cert.notBefore.getTime();
  const due = expired || now.getTime() >= renewFrom.getTime();
  const date = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
  const windowText = "days" in window ? `${window.days} days` : `${window.percent}% of its validity`;
  const message = expired
    ? `expired on ${date(cert.notAfter)} (${dayCount(-daysLeft)} ago): renew now`
    : due
      ? `renewal due: expires on ${date(cert.notAfter)}, in ${dayCount(daysLeft)} (window: ${windowText})`
      : `fresh: expires on ${date(cert.notAfter)}, in ${dayCount(daysLeft)}; renew from ${date(renewFrom)}`;
  return { due, expired, notYetValid, renewFrom, notAfter: cert.notAfter, daysLeft, message };
}
