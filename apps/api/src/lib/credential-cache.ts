// Who a credential stands for, kept in memory so that authenticating a request costs no query. The database says
// when to forget (channel mimic_auth, fed by triggers on users and api_keys, migration 0008): a user deleted or
// changed, a key revoked or its expiry moved — whichever process or path made the change. Notifications sent while
// the listener is down are lost, so nothing is kept until it is back, and everything is forgotten then.
import type { MimicDb } from "@mimic/db";

export const AUTH_CHANNEL = "mimic_auth";

/** A Map that keeps at most `capacity` entries, dropping the least recently read or written. */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError("capacity must be a positive integer");
  }

  get size() {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    // Most recently used last: Map iterates in insertion order.
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: K, value: V) {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K) {
    this.map.delete(key);
  }

  deleteWhere(test: (value: V) => boolean) {
    for (const [key, value] of this.map) if (test(value)) this.map.delete(key);
  }

  clear() {
    this.map.clear();
  }
}

export interface CachedUser {
  id: string;
}

export interface CachedApiKey<U extends CachedUser> {
  keyId: string;
  user: U;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export class CredentialCache<U extends CachedUser> {
  /** User id → the user's public columns (for access tokens). */
  readonly users: BoundedMap<string, U>;
  /** API key hash → the key and its user. Expiry is checked at each use: it needs no notification. */
  readonly keys: BoundedMap<string, CachedApiKey<U>>;
  /** Moves on every forgetting: a lookup that started before it must not store what it read. */
  private epoch = 0;
  private listening = false;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(capacity: number) {
    this.users = new BoundedMap(capacity);
    this.keys = new BoundedMap(capacity);
  }

  /** Whether entries are kept: only while notifications arrive. */
  get isListening() {
    return this.listening;
  }

  async start(db: MimicDb) {
    this.unlisten = await db.listen(
      AUTH_CHANNEL,
      (payload) => (payload === "*" ? this.clear() : this.forgetUser(payload)),
      {
        onDown: () => {
          this.listening = false;
          this.clear();
        },
        onRestored: () => {
          this.clear();
          this.listening = true;
        },
      },
    );
    this.listening = true;
  }

  async stop() {
    this.listening = false;
    this.clear();
    // The database may already be gone: there is nothing left to unlisten then.
    await this.unlisten?.().catch(() => {});
    this.unlisten = undefined;
  }

  /** Forgets a user and every key of theirs (their credentials changed, or they are gone). */
  forgetUser(userId: string) {
    this.epoch++;
    this.users.delete(userId);
    this.keys.deleteWhere((key) => key.user.id === userId);
  }

  clear() {
    this.epoch++;
    this.users.clear();
    this.keys.clear();
  }

  /**
   * What `map` holds for `key`, else what `load` reads, kept unless a notification arrived while it was read
   * (the row may have changed after the read saw it).
   */
  async through<V>(map: BoundedMap<string, V>, key: string, load: (key: string) => Promise<V | undefined>) {
    const hit = map.get(key);
    if (hit !== undefined) return hit;
    const epoch = this.epoch;
    const value = await load(key);
    if (value !== undefined && this.listening && epoch === this.epoch) map.set(key, value);
    return value;
  }
}
