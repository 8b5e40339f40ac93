// What list methods return: await it for one page, or `for await` over it for every item of every page.
import type { components } from "./generated/schema.js";

/** One page of a list, as every list operation of the API returns it. */
export interface Page<Item = unknown> {
  data: Item[];
  pagination: components["schemas"]["Pagination"];
}

/** The item type of a page type: `PageItem<PersonaList>` is `Persona`. */
export type PageItem<P extends Page> = P["data"][number];

/**
 * A lazy list request. `await client.personas.list({ limit: 50 })` gives the first page
 * (`{data, pagination}`); `for await (const persona of client.personas.list())` walks every page in turn.
 * Nothing is sent until it is awaited or iterated, and the first page is fetched at most once.
 */
export class PagePromise<P extends Page> implements PromiseLike<P>, AsyncIterable<PageItem<P>> {
  readonly #startPage: number;
  readonly #fetchPage: (page: number) => Promise<P>;
  #first: Promise<P> | undefined;

  constructor(startPage: number, fetchPage: (page: number) => Promise<P>) {
    this.#startPage = startPage;
    this.#fetchPage = fetchPage;
  }

  #firstPage(): Promise<P> {
    this.#first ??= this.#fetchPage(this.#startPage);
    return this.#first;
  }

  // biome-ignore lint/suspicious/noThenProperty: awaiting a PagePromise must give its first page, as with a Promise.
  then<A = P, B = never>(
    onfulfilled?: ((page: P) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#firstPage().then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<P | B> {
    return this.#firstPage().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<P> {
    return this.#firstPage().finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return "PagePromise";
  }

  /** Every page from the first one on, each fetched when the previous one has been consumed. */
  async *pages(): AsyncGenerator<P, void, undefined> {
    let page = await this.#firstPage();
    for (;;) {
      yield page;
      const { page: number, pages } = page.pagination;
      if (page.data.length === 0 || number >= pages) return;
      page = await this.#fetchPage(number + 1);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PageItem<P>, void, undefined> {
    // Items created while we walk push older ones onto the next page: never hand out the same one twice.
    const seen = new Set<unknown>();
    for await (const page of this.pages()) {
      for (const item of page.data as PageItem<P>[]) {
        const id = typeof item === "object" && item !== null && "id" in item ? item.id : undefined;
        if (id !== undefined) {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        yield item;
      }
    }
  }
}
