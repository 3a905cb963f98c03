"""The agents' side: conversation threads in a Slack support channel, on slack-bolt."""

from channels.slack.channel import SlackChannel

__all__ = ["SlackChannel"]
