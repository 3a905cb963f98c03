"""The people of the agent-group scenarios (``SWITCHBOARD_SLACK_AGENT_GROUP``)."""

from __future__ import annotations

ALEX = "U0AGENT1"  # a member of the support channel
OUTSIDER = "U0OUTSIDE"  # a workspace member in neither the channel nor the group
ON_CALL = "U0ONCALL"  # in the agent group, not in the channel
GROUP = "S0ONCALL"
