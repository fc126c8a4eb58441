from . import portal_bp


@portal_bp.get("/")
def calls():
    return "portal"
