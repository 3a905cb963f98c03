"""The Slack emulator's ``usergroups.users.list``, driven by the real slack_sdk client (Slack's response shape)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.sandbox.slack import SlackEmulator


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret="test-signing-secret")
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)


async def test_a_user_group_lists_its_members_like_slack(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    emulator.usergroups["S0ONCALL"] = {"U0B", "U0A"}

    answer = await client.usergroups_users_list(usergroup="S0ONCALL")

    assert answer.data == {"ok": True, "users": ["U0A", "U0B"]}
    [call] = emulator.calls_to("usergroups.users.list")
    assert call.params["usergroup"] == "S0ONCALL"  # slack_sdk sends it as a GET query


async def test_an_unknown_user_group_is_no_such_subteam(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.usergroups_users_list(usergroup="S0NOPE")
    assert refused.value.response["error"] == "no_such_subteam"
