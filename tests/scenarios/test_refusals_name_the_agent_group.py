"""With ``SWITCHBOARD_SLACK_AGENT_GROUP`` set, every refusal names who may act: the support channel's members and
the group's (``Permissions.who``), on the card's buttons, ``/available``, ``/away``, App Home and Export alike."""

from __future__ import annotations

import json

from tests.scenarios.test_transcripts import _conversation
from tests.support.agent_group import ALEX, GROUP, ON_CALL, OUTSIDER
from tests.support.harness import SUPPORT, Harness

WHO = f"members of <#{SUPPORT}> or of <!subteam^{GROUP}>"


def told(h: Harness, user: str) -> list[str]:
    return [str(e["text"]) for e in h.slack.ephemerals if e["user"] == user]


async def test_refusals_name_the_channel_and_the_agent_group(group_bridge: Harness) -> None:
    h = group_bridge
    async with h.widget(name="Ana", locale="es") as ana:
        ts = await _conversation(h, ana)

        assert (await h.slack.click_button(ts, "desk_claim", user=OUTSIDER))[0] == 200
        await h.slack.wait_for(lambda: len(told(h, OUTSIDER)) == 1)
        assert (await h.slack.post_command("/available", "", user=OUTSIDER))[0] == 200
        await h.slack.wait_for(lambda: len(told(h, OUTSIDER)) == 2)
        assert (await h.slack.post_command("/away", "", user=OUTSIDER))[0] == 200
        await h.slack.wait_for(lambda: len(told(h, OUTSIDER)) == 3)
        assert (await h.slack.click_button(ts, "desk_export", user=OUTSIDER))[0] == 200
        await h.slack.wait_for(lambda: len(told(h, OUTSIDER)) == 4)

        assert told(h, OUTSIDER) == [
            f"Only {WHO} can act on conversations.",
            f"Only {WHO} can take conversations.",
            f"Only {WHO} can take conversations.",
            f"Only {WHO} can export conversations.",
        ]
        assert h.slack.calls_to("files.getUploadURLExternal") == []

    assert (await h.slack.open_home(OUTSIDER))[0] == 200
    await h.slack.wait_for(lambda: h.slack.home_view(OUTSIDER) is not None)
    view = h.slack.home_view(OUTSIDER)
    assert view is not None
    assert f"Only {WHO} can take conversations" in json.dumps(view["blocks"], ensure_ascii=False)


async def test_assigning_someone_outside_the_channel_and_the_group_names_both(group_bridge: Harness) -> None:
    h = group_bridge
    async with h.widget(name="Ana", locale="es") as ana:
        ts = await _conversation(h, ana)

        assert (await h.slack.click_button(ts, "desk_assign", user=ALEX, value=OUTSIDER))[0] == 200
        await h.slack.wait_for(lambda: len(told(h, ALEX)) == 1)
        assert told(h, ALEX) == [f"<@{OUTSIDER}> is not one of the {WHO}: assign someone who is."]

        assert (await h.slack.click_button(ts, "desk_assign", user=ALEX, value=ON_CALL))[0] == 200
        await h.slack.wait_for(lambda: any(f"<@{ON_CALL}>" in (m.get("text") or "") for m in h.slack.thread(ts)))
