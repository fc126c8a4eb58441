// What the page tells the agent about itself: the error banner, short notices, and whether the
// connection is live.

const NOTICE_FOR = 4000;

// `banner` holds a ".text" and a ".dismiss" button; `notice` is a live region.
export function feedback(banner, notice) {
  let noticeTimer = null;

  function showError(message) {
    banner.querySelector(".text").textContent = message;
    banner.hidden = false;
  }

  function clearError() {
    banner.hidden = true;
  }

  function showNotice(message) {
    notice.textContent = message;
    notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { notice.hidden = true; }, NOTICE_FOR);
  }

  banner.querySelector(".dismiss").addEventListener("click", clearError);
  return { showError: showError, clearError: clearError, showNotice: showNotice };
}

export function showConnection(indicator, live) {
  indicator.setAttribute("data-state", live ? "live" : "reconnecting");
  indicator.textContent = live ? "Live" : "Reconnecting…";
}
