"""A :class:`.dialog.Turn` as TwiML (the ``twilio`` library's ``VoiceResponse``).

A prompt is a ``<Gather>`` (DTMF, posting ``Digits`` to the next step's action URL) with the
text inside, followed by a ``<Redirect>`` to the same URL without digits: the platform runs
it when the wait ends with no key, which the menu hears as a timeout. A hand-off says the call
reference and ``<Dial>``s the agent line (a SIP address carries the reference in an
``X-Guahao-Call`` header); an ending says goodbye and hangs up.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from .dialog import Turn

LANGUAGE = "cmn-CN"


def render(turn: Turn, *, action: str, timeout: int = 6, agent: str = "", call_ref: str = "") -> str:
    """The TwiML document that plays ``turn``; ``action`` is where the keys are posted."""
    response = VoiceResponse()
    if turn.end:
        response.say(turn.say, language=LANGUAGE)
        if turn.end == "agent" and agent:
            dial = Dial(answer_on_bridge=True)
            if agent.startswith("sip:"):
                dial.sip(f"{agent}?X-Guahao-Call={call_ref}")
            else:
                dial.number(agent)
            response.append(dial)
        response.hangup()
        return str(response)
    options: dict = {"input": "dtmf", "action": action, "method": "POST", "timeout": timeout,
                     "finish_on_key": "#" if turn.finish else ""}
    if turn.keys:
        options["num_digits"] = turn.keys
    gather = Gather(**options)
    gather.say(turn.say, language=LANGUAGE)
    response.append(gather)
    response.redirect(action, method="POST")
    return str(response)
