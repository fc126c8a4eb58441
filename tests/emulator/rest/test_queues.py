"""The Queues resource and its Members through the real twilio Client."""

from __future__ import annotations

from ..conftest import PATIENT, PRACTICE_NUMBER, account, say


def test_it_lists_queues_and_dequeues_the_front_member(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Enqueue action="/left" waitUrl="/hold">practice-7</Enqueue></Response>')
    twiml_app.route("/hold", '<Response><Pause length="30"/></Response>')
    twiml_app.route("/agent", say("An agent is ready."))
    call = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    call.wait_for_status("in queue (position 1)")

    [queue] = account(twilio_client).queues.list()
    assert (queue.friendly_name, queue.current_size, queue.max_size) == ("practice-7", 1, 1000)
    [member] = account(twilio_client).queues(queue.sid).members.list()
    assert (member.call_sid, member.position) == (call.sid, 1)
    account(twilio_client).queues(queue.sid).members("Front").update(url=twiml_app.url + "/agent", method="POST")

    call.wait_for("An agent is ready.")
    assert twiml_app.wait_for_request("/left")[0]["form"]["QueueResult"] == "redirected"
    assert account(twilio_client).queues(queue.sid).fetch().current_size == 0


def test_it_bridges_an_agent_to_the_front_of_a_queue(emulator, twiml_app, twilio_client):
    twiml_app.route("/voice", '<Response><Enqueue action="/left" waitUrl="/hold">q</Enqueue></Response>')
    twiml_app.route("/hold", '<Response><Pause length="30"/></Response>')
    twiml_app.route("/left", lambda f: say(f"Queue result {f['QueueResult']}."))
    twiml_app.route("/agent", "<Response><Dial><Queue>q</Queue></Dial></Response>")
    patient = emulator.phone.dial(PATIENT, PRACTICE_NUMBER)
    patient.wait_for_status("in queue (position 1)")

    account(twilio_client).calls.create(to="+15550007777", from_=PRACTICE_NUMBER, url=twiml_app.url + "/agent")
    agent = emulator.phone.incoming("+15550007777")
    agent.answer()

    patient.wait_until(lambda s: s["connected_to"] is not None)
    agent.hang_up()
    patient.wait_for("Queue result bridged.")
