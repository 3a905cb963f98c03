"""KeyedLocks: work on one key runs one at a time, other keys are not held up, and no lock outlives its users."""

from __future__ import annotations

import asyncio

from bridge.keyed_locks import KeyedLocks


async def test_one_key_at_a_time_other_keys_free_and_nothing_kept() -> None:
    locks = KeyedLocks()
    trace: list[str] = []
    release = asyncio.Event()

    async def work(key: str, name: str, *, wait: bool = False) -> None:
        async with locks.hold(key):
            trace.append(f"{name} in")
            if wait:
                await release.wait()
            trace.append(f"{name} out")

    first = asyncio.create_task(work("a", "a1", wait=True))
    await asyncio.sleep(0)
    second = asyncio.create_task(work("a", "a2"))
    other = asyncio.create_task(work("b", "b1"))
    await other  # another key is not held up by "a"
    await asyncio.sleep(0)
    assert trace == ["a1 in", "b1 in", "b1 out"]
    assert len(locks) == 1  # "a", held and awaited
    release.set()
    await asyncio.gather(first, second)

    assert trace == ["a1 in", "b1 in", "b1 out", "a1 out", "a2 in", "a2 out"]
    assert len(locks) == 0


async def test_a_failing_holder_releases_its_key() -> None:
    locks = KeyedLocks()

    async def fail() -> None:
        async with locks.hold(1):
            raise RuntimeError("boom")

    try:
        await fail()
    except RuntimeError:
        pass
    async with asyncio.timeout(1):
        async with locks.hold(1):
            pass
    assert len(locks) == 0
