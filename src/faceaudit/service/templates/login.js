// Sign in from a link /auditor/login#key=...: the URL fragment never reaches the server.
(function () {
  "use strict";
  var match = /(?:^#|&)key=([^&]+)/.exec(window.location.hash);
  if (!match) { return; }
  history.replaceState(null, "", window.location.pathname);
  document.getElementById("key").value = decodeURIComponent(match[1]);
  document.getElementById("login").submit();
})();
