"""List methods: one page on its own, every item of every page when iterated, sync and async."""
from __future__ import annotations

import asyncio
from typing import List, Tuple

import pytest

from conftest import Server
from mimic_sdk import AsyncMimicClient, AsyncPage, MimicClient, Persona


@pytest.fixture(scope="module")
def listed(server: Server) -> Tuple[str, List[str]]:
    """A user with 23 personas: its token, and their names in the order they were created."""
    client, token = server.sign_up()
    with client:
        return token, [client.personas.create(name=f"Persona {i:02}", prompt="A customer.").name for i in range(23)]


def test_iterating_a_page_walks_every_page_in_order(server: Server, listed: Tuple[str, List[str]]) -> None:
    token, names = listed
    with MimicClient(base_url=server.base_url, token=token) as client:
        first = client.personas.list(limit=10)
        assert len(first.data) == 10 and first.pagination.pages == 3 and first.pagination.total == 23
        assert first.has_next_page()
        walked = [p.name for p in first]
        assert walked == list(reversed(names))  # newest first, none twice, none missing
        assert all(isinstance(p, Persona) for p in first)
        assert [len(page.data) for page in first.iter_pages()] == [10, 10, 3]
        last = first.next_page().next_page()
        assert not last.has_next_page() and last.pagination.page == 3
        from_page_two = [p.name for p in client.personas.list(limit=10, page=2)]
        assert from_page_two == walked[10:]


def test_async_lists_are_awaited_for_one_page_or_iterated_for_all(server: Server, listed: Tuple[str, List[str]]) -> None:
    token, names = listed

    async def run() -> None:
        async with AsyncMimicClient(base_url=server.base_url, token=token) as client:
            page = await client.personas.list(limit=10)
            assert isinstance(page, AsyncPage) and len(page.data) == 10 and page.pagination.total == 23
            walked = [p.name async for p in client.personas.list(limit=10)]
            assert walked == list(reversed(names))
            sizes = [len(p.data) async for p in page.iter_pages()]
            assert sizes == [10, 10, 3]

    asyncio.run(run())
