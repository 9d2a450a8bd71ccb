// Show the caller's earlier tickets while the operator types the number.
(function () {
  "use strict";
  var form = document.querySelector(".desk-form");
  if (!form) return;
  var phone = form.querySelector("input[name=phone]");
  var target = document.getElementById("caller-history");
  var url = form.getAttribute("data-history-url");
  var timer = null;
  var last = "";
  var lookup = form.querySelector(".desk-lookup");
  if (lookup) lookup.hidden = true;

  function refresh() {
    var digits = phone.value.replace(/[^\d+]/g, "");
    if (digits.length < 7 || digits === last) return;
    last = digits;
    fetch(url + "?phone=" + encodeURIComponent(phone.value), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (html && digits === last) target.innerHTML = html; })
      .catch(function () { if (lookup) lookup.hidden = false; });
  }

  phone.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  if (phone.value) refresh();
})();
