"""New conversations are offered round-robin to available agents under their caps; urgent ones go first."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from tests.scenarios.test_agent_works_a_conversation_from_its_card import customer_gets
from tests.support.harness import Harness, Widget

ALEX, SAM = "U0AGENT1", "U0AGENT2"


async def customer(stack: AsyncExitStack, harness: Harness, name: str, text: str) -> Widget:
    """A widget customer ``name`` whose first message ``text`` is stored (and routed)."""
    widget = await stack.enter_async_context(harness.widget(name=name, locale="en"))
    await widget.say(text, "c1")
    await harness.slack.wait_for(lambda: card_of(harness, name) is not None)
    return widget


def card_of(harness: Harness, name: str) -> dict[str, Any] | None:
    return next((m for m in harness.slack.channel_messages() if m["blocks"][0]["text"]["text"] == f"💬 {name}"), None)


def field(harness: Harness, name: str, label: str) -> str:
    found = card_of(harness, name)
    assert found is not None
    for block in found["blocks"]:
        for item in block.get("fields") or ():
            head, _, value = item["text"].partition("\n")
            if head == f"*{label}*":
                return str(value)
    raise KeyError(label)


async def until_field(harness: Harness, name: str, label: str, value: str) -> None:
    await harness.slack.wait_for(lambda: card_of(harness, name) is not None and field(harness, name, label) == value)


async def command(harness: Harness, name: str, text: str, user: str) -> str:
    status, _ = await harness.slack.post_command(name, text, user=user)
    assert status == 200
    return str(harness.slack.ephemerals[-1]["text"])


async def test_round_robin_respects_caps_and_availability(harness: Harness) -> None:
    assert (await command(harness, "/available", "1", ALEX)).startswith("You are available (up to 1 open")
    await command(harness, "/available", "", SAM)
    async with AsyncExitStack() as stack:
        await customer(stack, harness, "Ana", "Hello")
        await customer(stack, harness, "Ben", "Hi there")
        await customer(stack, harness, "Cy", "Good morning")
        await until_field(harness, "Ana", "Assignee", f"<@{ALEX}>")
        await until_field(harness, "Ben", "Assignee", f"<@{SAM}>")
        await until_field(harness, "Cy", "Assignee", f"<@{SAM}>")  # Alex is at his cap of 1

        assert (await command(harness, "/away", "", SAM)).startswith("You are away")
        dee = await customer(stack, harness, "Dee", "Anyone?")
        await customer_gets(dee, "You are number 1 in the queue.")
        assert field(harness, "Dee", "Assignee") == "Unassigned"
        roots = {m["blocks"][0]["text"]["text"]: m["ts"] for m in harness.slack.channel_messages()}
        await harness.slack.wait_for(
            lambda: any("number 1 in the queue" in m["text"] for m in harness.slack.thread(roots["💬 Dee"]))
        )

        ana = card_of(harness, "Ana")
        assert ana is not None
        await harness.slack.click_button(ana["ts"], "desk_close", user=ALEX)  # Alex has room again
        await until_field(harness, "Dee", "Assignee", f"<@{ALEX}>")
        await customer_gets(dee, "Alex joined the conversation.")
        assigned = f"Assigned to Alex (round-robin): <@{ALEX}>"  # posted after the card's refresh
        await harness.slack.wait_for(lambda: assigned in [m["text"] for m in harness.slack.thread(roots["💬 Dee"])])


async def test_urgent_keyword_jumps_the_queue(harness: Harness) -> None:
    await command(harness, "/available", "1", ALEX)
    async with AsyncExitStack() as stack:
        await customer(stack, harness, "Ana", "Hello")
        await until_field(harness, "Ana", "Assignee", f"<@{ALEX}>")
        await customer(stack, harness, "Ben", "I have a question")
        cy = await customer(stack, harness, "Cy", "My PAYMENT did not arrive")
        await until_field(harness, "Cy", "Priority", "🔴 Urgent")
        await customer_gets(cy, "You are number 1 in the queue.")  # ahead of Ben, who came first
        assert field(harness, "Ben", "Priority") == "Normal"

        ana = card_of(harness, "Ana")
        assert ana is not None
        await harness.slack.click_button(ana["ts"], "desk_close", user=ALEX)
        await until_field(harness, "Cy", "Assignee", f"<@{ALEX}>")
        assert field(harness, "Ben", "Assignee") == "Unassigned"


async def test_agent_set_priorities_order_the_queue_high_normal_low(harness: Harness) -> None:
    await command(harness, "/available", "1", ALEX)
    async with AsyncExitStack() as stack:
        await customer(stack, harness, "Ana", "Hello")
        await until_field(harness, "Ana", "Assignee", f"<@{ALEX}>")  # Alex is at his cap: the others wait
        for name in ("Ben", "Cy", "Di"):
            await customer(stack, harness, name, "Hi")
            await until_field(harness, name, "Assignee", "Unassigned")
        for name, priority, label in (("Ben", "low", "Low"), ("Di", "high", "🟠 High")):
            found = card_of(harness, name)
            assert found is not None
            await harness.slack.click_button(found["ts"], "desk_priority", user=ALEX, value=priority)
            await until_field(harness, name, "Priority", label)

        # Each close makes room for one more: high (Di), then normal (Cy), then low (Ben, who came first).
        for closing, served in (("Ana", "Di"), ("Di", "Cy"), ("Cy", "Ben")):
            found = card_of(harness, closing)
            assert found is not None
            await harness.slack.click_button(found["ts"], "desk_close", user=ALEX)
            await until_field(harness, served, "Assignee", f"<@{ALEX}>")
            waiting = [n for n in ("Ben", "Cy", "Di") if field(harness, n, "Status") != "✅ Resolved" and n != served]
            assert all(field(harness, n, "Assignee") == "Unassigned" for n in waiting)


async def test_availability_commands_answer_bad_arguments_with_usage(harness: Harness) -> None:
    assert (await command(harness, "/available", "lots", ALEX)).startswith("Usage: `/available")
    assert (await command(harness, "/away", "now please", ALEX)).startswith("Usage: `/away`")


async def test_without_registered_agents_nothing_is_queued(harness: Harness) -> None:
    """A desk where nobody uses /available keeps the plain bridge: no queue texts to the customer."""
    async with AsyncExitStack() as stack:
        ana = await customer(stack, harness, "Ana", "Hello")
        await harness.slack.drain()
        assert not [f for f in ana.seen if f["type"] == "message"]
        assert field(harness, "Ana", "Assignee") == "Unassigned"
