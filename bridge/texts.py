"""This module holds the English source of every built-in system text, marked for `pybabel extract`."""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "AGENT_JOINED",
    "CHOOSE_LANGUAGE",
    "COMMAND_LANGUAGE",
    "COMMAND_START",
    "COMMAND_TRANSCRIPT",
    "CONVERSATION_CLOSED",
    "DELIVERY_FAILED",
    "FAQ_ANSWERED",
    "FAQ_PERSON",
    "FAQ_PERSON_COMING",
    "FAQ_THANKS",
    "FEEDBACK_THANKS",
    "FILE_TOO_LARGE",
    "GREETING",
    "GREETING_NAMED",
    "LANGUAGE_CHOSEN",
    "MESSAGE_TOO_LONG",
    "NO_TRANSCRIPT",
    "OFFLINE",
    "PEOPLE_AHEAD",
    "QUEUE_POSITION",
    "RATE_LIMITED",
    "SURVEY_COMMENT",
    "SURVEY_QUESTION",
    "TRANSCRIPT_ATTACHMENT",
    "TRANSCRIPT_NUMBER",
    "TRANSCRIPT_STARTED",
    "TRANSCRIPT_TITLE",
    "WIDGET_CONTEXT",
    "WIDGET_STRINGS",
    "PluralText",
]


class PluralText(NamedTuple):
    """A singular/plural pair; unpack it into `Catalogs.ngettext(locale, *text, n)`."""

    singular: str
    plural: str


# These three markers only tag literals for `pybabel extract` (its default keywords); translation happens in
# `Catalogs`, which receives the returned source strings.
def _(msgid: str) -> str:
    return msgid


def ngettext(singular: str, plural: str) -> PluralText:
    return PluralText(singular, plural)


def pgettext(context: str, msgid: str) -> str:
    return msgid


WIDGET_CONTEXT = "widget"

# TRANSLATORS: First message a customer sees. {name} is the customer's first name.
GREETING_NAMED = _("Hi {name}! Thanks for reaching out. An agent will be with you shortly.")
# TRANSLATORS: First message a customer sees when we do not know their name.
GREETING = _("Hi! Thanks for reaching out. An agent will be with you shortly.")
# TRANSLATORS: {when} is a date and time already formatted for your language, e.g. "Mar 3, 2026, 9:00 AM".
OFFLINE = _("Our agents are offline right now. We will be back {when}. Leave a message and we will reply then.")
# TRANSLATORS: {position} is a number: 1 means the customer is next.
QUEUE_POSITION = _("You are number {position} in the queue.")
# TRANSLATORS: {count} is how many customers wait before this one. Forms without {count} are allowed where
# your language writes the number as a word (e.g. "one person").
PEOPLE_AHEAD = ngettext("There is {count} person ahead of you.", "There are {count} people ahead of you.")
# TRANSLATORS: {agent} is the support agent's display name.
AGENT_JOINED = _("{agent} joined the conversation.")
CONVERSATION_CLOSED = _("This conversation has been closed. Write again any time to reopen it.")
# TRANSLATORS: Customers answer by typing a digit, so keep the digits 1 and 5 as they are.
SURVEY_QUESTION = _("How would you rate this conversation? Reply with a number from 1 (bad) to 5 (great).")
FEEDBACK_THANKS = _("Thank you for your feedback!")
# TRANSLATORS: Sent right after the customer rated the conversation. Whatever they write next is kept as an optional
# comment on their rating.
SURVEY_COMMENT = _("Thanks! Is there anything you would like to add? Just write it here.")
# TRANSLATORS: {limit} is a file size already formatted, e.g. "20 MB".
FILE_TOO_LARGE = _("This file is too large. The limit is {limit}.")
RATE_LIMITED = _("You are sending messages too fast. Please wait a moment.")
DELIVERY_FAILED = _("This message could not be delivered. Please try again.")
# TRANSLATORS: {limit} is a number of characters already formatted, e.g. "4,000".
MESSAGE_TOO_LONG = _("This message is too long. The limit is {limit} characters.")
# TRANSLATORS: Above the buttons that choose the language of the chat (Telegram /language).
CHOOSE_LANGUAGE = _("Choose your language:")
# TRANSLATORS: Sent in the language just chosen. {language} is its name in itself, e.g. "Türkçe".
LANGUAGE_CHOSEN = _("From now on we will write to you in {language}.")
# TRANSLATORS: First line of a conversation transcript: a text file the customer downloads or receives.
TRANSCRIPT_TITLE = _("Conversation transcript")
# TRANSLATORS: In a transcript's header. {number} is the conversation's number, e.g. "Conversation #42".
TRANSCRIPT_NUMBER = _("Conversation #{number}")
# TRANSLATORS: In a transcript's header. {when} is a date and time already formatted for your language, with its
# time zone, e.g. "March 3, 2026, 9:00:05 AM UTC".
TRANSCRIPT_STARTED = _("Started {when}")
# TRANSLATORS: A line of a transcript under a message that carried a file. {name} is the file's name.
TRANSCRIPT_ATTACHMENT = _("Attachment: {name}")
# TRANSLATORS: Answer to a transcript request (Telegram /transcript, the widget's download) from a customer who
# has never written to us.
NO_TRANSCRIPT = _("There is no conversation to send yet: write to us first.")

# The chat widget's own interface, keyed by the stable names widget.js uses.
WIDGET_STRINGS: dict[str, str] = {
    # TRANSLATORS: Title bar of the chat window.
    "title": pgettext("widget", "Chat with us"),
    # TRANSLATORS: Placeholder inside the empty message box.
    "placeholder": pgettext("widget", "Type your message…"),
    # TRANSLATORS: Button that sends the message.
    "send": pgettext("widget", "Send"),
    # TRANSLATORS: Status under a message while it is being sent.
    "sending": pgettext("widget", "Sending…"),
    # TRANSLATORS: Status under a message: stored by us.
    "sent": pgettext("widget", "Sent"),
    # TRANSLATORS: Status under a message: an agent received it.
    "delivered": pgettext("widget", "Delivered"),
    "connecting": pgettext("widget", "Connecting…"),
    "reconnecting": pgettext("widget", "Reconnecting…"),
    # TRANSLATORS: Agents are available.
    "online": pgettext("widget", "Online"),
    # TRANSLATORS: No agent is available.
    "offline": pgettext("widget", "Offline"),
    # TRANSLATORS: Label of the language menu.
    "language": pgettext("widget", "Language"),
    "close": pgettext("widget", "Close chat"),
    "open": pgettext("widget", "Open chat"),
    # TRANSLATORS: Badge shown when messages arrived while the chat was scrolled up or closed.
    "new_messages": pgettext("widget", "New messages"),
    # TRANSLATORS: Author label of the customer's own messages.
    "you": pgettext("widget", "You"),
    # TRANSLATORS: Author label of a support agent's messages when the agent has no name.
    "agent": pgettext("widget", "Agent"),
    # TRANSLATORS: Author label of automatic messages.
    "support_team": pgettext("widget", "Support team"),
    # TRANSLATORS: Button in the chat window's header that saves the conversation as a text file.
    "transcript": pgettext("widget", "Download transcript"),
    # TRANSLATORS: Notice above the message box when the customer sent many messages in a short time.
    # The chat sends their waiting messages again by itself: the customer need not do anything.
    "rate_limited": pgettext("widget", "You are sending messages quickly. We will send yours in a moment."),
    # TRANSLATORS: Button (a paperclip) next to the message box that opens the file chooser.
    "attach": pgettext("widget", "Attach files"),
    # TRANSLATORS: Label, read by screen readers, of the list of files above the message box, waiting to be sent.
    "files": pgettext("widget", "Files to send"),
    # TRANSLATORS: Shown over the chat window while the customer drags files over it.
    "drop_files": pgettext("widget", "Drop files here to send them"),
    # TRANSLATORS: Under a file's name while it is being sent; a percentage may follow.
    "uploading": pgettext("widget", "Uploading…"),
    # TRANSLATORS: Button (an ×) on a file waiting to be sent; screen readers read the file's name after it.
    "remove_file": pgettext("widget", "Remove file"),
    # TRANSLATORS: Under a file that was not sent (the bridge's limit, channels/web/uploads.py). Write the size as
    # your language does, e.g. "40 МБ".
    "file_too_large": pgettext("widget", "This file is too large. The limit is 40 MB."),
    # TRANSLATORS: Under a file that was not sent because of its type. Keep the format names as they are.
    "file_type": pgettext(
        "widget", "This kind of file cannot be sent. Send a picture (PNG, JPEG, GIF or WebP), a PDF or a text file."
    ),
    # TRANSLATORS: Under a file that was not sent because it has nothing in it.
    "file_empty": pgettext("widget", "This file is empty."),
    # TRANSLATORS: Under a file that was not added: the message already has 15 files.
    "too_many_files": pgettext("widget", "A message can carry at most 15 files."),
    # TRANSLATORS: Under a file that was not sent because of a network or server problem.
    "upload_failed": pgettext("widget", "This file could not be uploaded. Remove it and try again."),
    # TRANSLATORS: Under a file that was not sent because the customer sent many files in a short time.
    "upload_rate_limited": pgettext("widget", "You are sending files quickly. Wait a moment, then add this one again."),
    # TRANSLATORS: Under a file that was not sent: within the last hour, many large files were sent from the
    # customer's network (the same internet connection: an office, a café...). An hour later it works again.
    "upload_quota": pgettext("widget", "Too many files were sent from your network in the last hour. Try again later."),
    # TRANSLATORS: Before a file's name, as what a button under a message does: "Download invoice.pdf". The file's
    # name follows after a space.
    "download_file": pgettext("widget", "Download"),
    # TRANSLATORS: Above the message box when a file of the conversation could not be downloaded.
    "download_failed": pgettext("widget", "This file could not be downloaded. Try again in a moment."),
}

# The FAQ bot (bridge/faq.py): an automatic answer before an agent joins, with two buttons under it.
# TRANSLATORS: A button under an automatic answer: the customer needs nothing more (keep it short).
FAQ_ANSWERED = _("That answers my question")
# TRANSLATORS: A button under an automatic answer: the customer wants someone from the support team (keep it short).
FAQ_PERSON = _("Talk to a person")
# TRANSLATORS: Sent after the customer pressed "Talk to a person".
FAQ_PERSON_COMING = _("Someone from our team will be with you shortly.")
# TRANSLATORS: Sent after the customer pressed "That answers my question"; the conversation is closed then.
FAQ_THANKS = _("Glad we could help! Write again any time if you need anything else.")

# The bot's command menu in Telegram (channels/telegram/menu.py): shown next to each command when the customer
# opens the Menu button or types "/".
# TRANSLATORS: Telegram's command menu: what /start does (at most 256 characters; keep it short).
COMMAND_START = _("Start a conversation with our support team")
# TRANSLATORS: Telegram's command menu: what /language does (keep it short).
COMMAND_LANGUAGE = _("Choose the language we write to you in")
# TRANSLATORS: Telegram's command menu: what /transcript does (keep it short).
COMMAND_TRANSCRIPT = _("Get your latest conversation as a text file")
