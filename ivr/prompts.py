"""Everything the IVR says, in one place per language."""

EN = {
    "voice": "Polly.Joanna",
    "language": "en-US",
    "welcome": "Thank you for calling {practice}.",
    "advisory": "If this is a medical emergency, hang up and dial 9 1 1.",
    "menu": (
        "For an urgent medical question, press 1. "
        "To leave a message for the office, press 2. "
        "To speak with the operator, press 0."
    ),
    "invalid": "Sorry, that is not one of the choices.",
    "fallback_to_message": "Let me put you through to someone who will take a message for the office.",
    "queued": (
        "Thank you. You are number {position} in line. "
        "Please stay on the line and someone will be with you shortly."
    ),
    "urgent_queued": "Thank you. We are connecting you to the next available person as a priority.",
    "hold": "You are number {position} in line. Thank you for holding; please stay on the line.",
    "connecting": "Connecting you now.",
    "agent_missed": "Sorry, that person could not take your call. You keep your place in line.",
    "goodbye": "Thank you for calling. Goodbye.",
    "unknown_number": (
        "We're sorry, this number is not set up with our answering service. "
        "Please check the number and call again. If this is a medical emergency, hang up and dial 9 1 1."
    ),
    "safe_fallback": (
        "We're sorry, we cannot connect you right now. Please leave your name, number and message "
        "after the tone, and we will call you back."
    ),
    "voicemail_thanks": "Thank you. Your message has been recorded and we will call you back. Goodbye.",
    "sms_reply": (
        "This number does not receive text messages. Please call it to reach the office. "
        "For emergencies dial 911."
    ),
}
