"""What list methods return. Sync: the first page, already fetched; iterating it walks every item of every page.
Async: an awaitable for the first page that is also an async iterator over every item of every page."""
from __future__ import annotations

from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Generic,
    Iterator,
    List,
    Optional,
    Protocol,
    Set,
    TypeVar,
)

from .generated.models import Pagination

__all__ = ["SyncPage", "AsyncPage", "AsyncPager"]

T = TypeVar("T")


class PageLike(Protocol[T]):
    """One page as every list operation returns it: ``{data, pagination}``."""

    @property
    def data(self) -> List[T]: ...

    @property
    def pagination(self) -> Pagination: ...


def _has_next(pagination: Pagination, data_length: int) -> bool:
    return data_length > 0 and pagination.page < pagination.pages


def _item_id(item: Any) -> Optional[Any]:
    return getattr(item, "id", None)


class SyncPage(Generic[T]):
    """One page of a list (``data``, ``pagination``). ``for item in page`` goes on to the following pages.

    Items created while you walk push older ones onto the next page: the same item is never yielded twice.
    """

    def __init__(self, fetch: Callable[[int], PageLike[T]], page: int) -> None:
        self._fetch = fetch
        first = fetch(page)
        self.data: List[T] = list(first.data)
        self.pagination: Pagination = first.pagination

    def has_next_page(self) -> bool:
        return _has_next(self.pagination, len(self.data))

    def next_page(self) -> "SyncPage[T]":
        """The page after this one; IndexError when this is the last."""
        if not self.has_next_page():
            raise IndexError("this is the last page")
        return SyncPage(self._fetch, self.pagination.page + 1)

    def iter_pages(self) -> Iterator["SyncPage[T]"]:
        """This page, then every following one, each fetched when the previous one has been consumed."""
        page: SyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        seen: Set[Any] = set()
        for page in self.iter_pages():
            for item in page.data:
                key = _item_id(item)
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                yield item

    def __len__(self) -> int:
        """The number of items on this page (``pagination.total`` counts every page)."""
        return len(self.data)

    def __repr__(self) -> str:
        p = self.pagination
        return f"<SyncPage page={p.page}/{p.pages} items={len(self.data)} total={p.total}>"


class AsyncPage(Generic[T]):
    """One page of a list, async: ``async for item in page`` goes on to the following pages."""

    def __init__(self, fetch: Callable[[int], Awaitable[PageLike[T]]], first: PageLike[T]) -> None:
        self._fetch = fetch
        self.data: List[T] = list(first.data)
        self.pagination: Pagination = first.pagination

    def has_next_page(self) -> bool:
        return _has_next(self.pagination, len(self.data))

    async def next_page(self) -> "AsyncPage[T]":
        if not self.has_next_page():
            raise IndexError("this is the last page")
        return AsyncPage(self._fetch, await self._fetch(self.pagination.page + 1))

    async def iter_pages(self) -> AsyncIterator["AsyncPage[T]"]:
        page: AsyncPage[T] = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = await page.next_page()

    async def __aiter__(self) -> AsyncIterator[T]:
        seen: Set[Any] = set()
        async for page in self.iter_pages():
            for item in page.data:
                key = _item_id(item)
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                yield item

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        p = self.pagination
        return f"<AsyncPage page={p.page}/{p.pages} items={len(self.data)} total={p.total}>"


class AsyncPager(Generic[T]):
    """What an async list method returns: ``await`` it for the first page (an AsyncPage), or ``async for``
    over it for every item of every page. Nothing is sent until then."""

    def __init__(self, fetch: Callable[[int], Awaitable[PageLike[T]]], page: int) -> None:
        self._fetch = fetch
        self._page = page

    async def _first(self) -> AsyncPage[T]:
        return AsyncPage(self._fetch, await self._fetch(self._page))

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._first().__await__()

    async def __aiter__(self) -> AsyncIterator[T]:
        page = await self._first()
        async for item in page:
            yield item
