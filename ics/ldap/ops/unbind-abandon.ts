// Unbind (RFC 4511 §4.3) and abandon (§4.11): neither has a response; both only free resources.

/** An operation in progress, as abandon sees it. */
export interface Outstanding {
  abandoned: boolean;
}

/** Unbind: the client is done; close the connection. */
export function unbind(connection: { end(): void }): void {
  connection.end();
}

/** Abandon: a search in progress stops at its next step and sends nothing more. */
export function abandon(outstanding: ReadonlyMap<number, Outstanding>, abandonId: number): void {
  const o = outstanding.get(abandonId);
  if (o) o.abandoned = true;
}
