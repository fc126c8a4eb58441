"""Everything the IVR says, in one place per language. Every language has the same keys."""

EN = {
    "voice": "Polly.Joanna",
    "language": "en-US",
    "welcome": "Thank you for calling {practice}.",
    "advisory": "If this is a medical emergency, hang up and dial 9 1 1.",
    "spanish": "Para español, oprima 9.",
    "option_urgent": "For an urgent medical question, press 1.",
    "option_message": "To leave a message for the office, press 2.",
    "option_appointment": "For appointments, press 3.",
    "option_refill": "For prescription refills, press 4.",
    "option_billing": "For billing, press 5.",
    "option_operator": "To speak with the operator, press 0.",
    "menu_speech": "You can also say what you are calling about.",
    "invalid": "Sorry, that is not one of the choices.",
    "fallback_to_message": "Let me put you through to someone who will take a message for the office.",
    "emergency_heard": (
        "It sounds like this could be an emergency. If you or someone with you is in danger, "
        "hang up now and dial 9 1 1. Otherwise, stay on the line and we will treat your call as urgent."
    ),
    "queued": "Thank you. You are number {position} in line.",
    "urgent_queued": "Thank you. We are treating your call as urgent. You are number {position} in line.",
    "estimate": "The wait is about {minutes} minutes.",
    "estimate_one": "The wait is about one minute.",
    "stay": "Please stay on the line; someone will be with you as soon as possible.",
    "hold": "You are still number {position} in line.",
    "keep_place_offer": "To hang up and keep your place in line, and be called back, press 1.",
    "keep_place_caller_id": (
        "We can call you back at the number ending in {last4}. Press 1 for that number, "
        "or press 2 to enter a different number."
    ),
    "keep_place_enter": "Please enter the phone number to call you back on, then press the pound key.",
    "keep_place_readback": "You entered {digits}. Press 1 if that is right, or 2 to enter it again.",
    "keep_place_bad_number": "Sorry, that does not look like a phone number.",
    "keep_place_done": (
        "Thank you. You keep your place in line, and we will call you back when it is your turn. Goodbye."
    ),
    "keep_place_cancelled": "All right, you are still in line.",
    "connecting": "Connecting you now.",
    "recorded": "This call will be recorded.",
    "callback_greeting": "Hello, this is the answering service for {practice}, returning your call. Please hold.",
    "agent_missed": "Sorry, that person could not take your call. You keep your place in line.",
    "on_hold": "Please stay on the line.",
    "agent_lost": "Sorry, we lost the line to the person helping you. You keep your place in line.",
    "goodbye": "Thank you for calling. Goodbye.",
    "unknown_number": (
        "We're sorry, this number is not set up with our answering service. "
        "Please check the number and call again. If this is a medical emergency, hang up and dial 9 1 1."
    ),
    "after_hours": "The office is closed right now.",
    "overflow": "All of our staff are busy helping other callers.",
    "max_wait": "We are sorry for the long wait.",
    "voicemail_prompt": (
        "Please leave your name, date of birth, the best number to call you back, and your message "
        "after the tone. Press pound when you are finished."
    ),
    "voicemail_urgent_prompt": (
        "The on-call clinician has been paged. Please leave your name, the best number to call you back, "
        "and what is happening after the tone. Press pound when you are finished."
    ),
    "voicemail_thanks": (
        "Thank you. Your message has been recorded and the office will call you back. Goodbye."
    ),
    # Said only when the clinician's page went out (Onward.paged): they have the caller's number.
    "voicemail_urgent_thanks": (
        "Thank you. Your message has been recorded, and the on-call clinician has been paged with your "
        "number. If things get worse, hang up and dial 9 1 1. Goodbye."
    ),
    # Nobody on call, or the page could not be sent: nobody has been told but our own staff.
    "voicemail_unpaged_prompt": (
        "We could not reach the on-call clinician. If this is an emergency, hang up and dial 9 1 1. "
        "Otherwise, please leave your name, the best number to call you back, and what is happening after "
        "the tone. Press pound when you are finished."
    ),
    "voicemail_unpaged_thanks": (
        "Thank you. Your urgent message has been recorded for our staff. "
        "If things get worse, hang up and dial 9 1 1. Goodbye."
    ),
    "on_call_connecting": "Please hold while we connect you to the on-call clinician.",
    "emergency_line_connecting": "No clinician is on call right now. Please hold while we connect you to the "
                                 "practice's emergency line.",
    "safe_fallback": (
        "We're sorry, we cannot connect you right now. Please leave your name, number and message "
        "after the tone, and we will call you back."
    ),
    "sms_reply": (
        "This number does not receive text messages. Please call it to reach the office. "
        "For emergencies dial 911."
    ),
}

ES = {
    "voice": "Polly.Lupe",
    "language": "es-US",
    "welcome": "Gracias por llamar a {practice}.",
    "advisory": "Si es una emergencia médica, cuelgue y marque el 9 1 1.",
    "spanish": "",
    "option_urgent": "Para una pregunta médica urgente, oprima 1.",
    "option_message": "Para dejar un mensaje para la oficina, oprima 2.",
    "option_appointment": "Para citas, oprima 3.",
    "option_refill": "Para recetas, oprima 4.",
    "option_billing": "Para facturación, oprima 5.",
    "option_operator": "Para hablar con la operadora, oprima 0.",
    "menu_speech": "También puede decir el motivo de su llamada.",
    "invalid": "Lo siento, esa no es una de las opciones.",
    "fallback_to_message": "Le comunico con alguien que tomará un mensaje para la oficina.",
    "emergency_heard": (
        "Parece que podría ser una emergencia. Si usted o alguien con usted está en peligro, "
        "cuelgue ahora y marque el 9 1 1. Si no, permanezca en la línea y atenderemos su llamada como urgente."
    ),
    "queued": "Gracias. Usted es el número {position} en la fila.",
    "urgent_queued": "Gracias. Atenderemos su llamada como urgente. Usted es el número {position} en la fila.",
    "estimate": "La espera es de unos {minutes} minutos.",
    "estimate_one": "La espera es de un minuto aproximadamente.",
    "stay": "Por favor permanezca en la línea; alguien le atenderá lo antes posible.",
    "hold": "Usted sigue siendo el número {position} en la fila.",
    "keep_place_offer": "Para colgar, conservar su lugar en la fila y recibir una llamada de vuelta, oprima 1.",
    "keep_place_caller_id": (
        "Podemos llamarle al número que termina en {last4}. Oprima 1 para ese número, "
        "u oprima 2 para marcar otro número."
    ),
    "keep_place_enter": "Marque el número al que debemos llamarle y luego oprima la tecla de número.",
    "keep_place_readback": "Usted marcó {digits}. Oprima 1 si es correcto, o 2 para marcarlo de nuevo.",
    "keep_place_bad_number": "Lo siento, eso no parece un número de teléfono.",
    "keep_place_done": (
        "Gracias. Conserva su lugar en la fila y le llamaremos cuando sea su turno. Adiós."
    ),
    "keep_place_cancelled": "Muy bien, sigue en la fila.",
    "connecting": "Le estamos comunicando.",
    "recorded": "Esta llamada será grabada.",
    "callback_greeting": "Hola, le llama el servicio de contestación de {practice}, devolviendo su llamada.",
    "agent_missed": "Lo siento, esa persona no pudo atender su llamada. Conserva su lugar en la fila.",
    "on_hold": "Por favor, no cuelgue.",
    "agent_lost": "Lo siento, se perdió la línea con la persona que le atendía. Conserva su lugar en la fila.",
    "goodbye": "Gracias por llamar. Adiós.",
    "unknown_number": EN["unknown_number"],
    "after_hours": "La oficina está cerrada en este momento.",
    "overflow": "Todo nuestro personal está atendiendo a otras personas.",
    "max_wait": "Lamentamos la larga espera.",
    "voicemail_prompt": (
        "Por favor deje su nombre, fecha de nacimiento, el mejor número para devolverle la llamada "
        "y su mensaje después del tono. Oprima la tecla de número cuando termine."
    ),
    "voicemail_urgent_prompt": (
        "Hemos avisado al médico de guardia. Deje su nombre, el mejor número para llamarle "
        "y lo que está pasando después del tono. Oprima la tecla de número cuando termine."
    ),
    "voicemail_thanks": "Gracias. Su mensaje quedó grabado y la oficina le llamará. Adiós.",
    "voicemail_urgent_thanks": (
        "Gracias. Su mensaje quedó grabado y hemos avisado al médico de guardia con su número. "
        "Si empeora, cuelgue y marque el 9 1 1. Adiós."
    ),
    "voicemail_unpaged_prompt": (
        "No pudimos comunicarnos con el médico de guardia. Si es una emergencia, cuelgue y marque el 9 1 1. "
        "Si no, deje su nombre, el mejor número para llamarle y lo que está pasando después del tono. "
        "Oprima la tecla de número cuando termine."
    ),
    "voicemail_unpaged_thanks": (
        "Gracias. Su mensaje urgente quedó grabado para nuestro personal. "
        "Si empeora, cuelgue y marque el 9 1 1. Adiós."
    ),
    "on_call_connecting": "Espere mientras le comunicamos con el médico de guardia.",
    "emergency_line_connecting": "No hay ningún médico de guardia en este momento. Espere mientras le comunicamos "
                                 "con la línea de emergencias del consultorio.",
    "safe_fallback": EN["safe_fallback"],
    "sms_reply": EN["sms_reply"],
}

LANGUAGES = {"en": EN, "es": ES}


def prompts(language: str | None) -> dict:
    return LANGUAGES.get(language or "en", EN)
