"""Reading TwiML answers the way Twilio would."""

from xml.etree import ElementTree


def parse(response) -> ElementTree.Element:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/xml"
    root = ElementTree.fromstring(response.data)
    assert root.tag == "Response"
    return root


def spoken(root) -> str:
    """Everything the caller hears, in order."""
    return " ".join((el.text or "").strip() for el in root.iter("Say"))


def verbs(root) -> list[str]:
    return [child.tag for child in root]
