/* Citizens' pages: a form that came back with errors puts the keyboard on their list;
   on the report form "use my location" fills the two coordinate fields, and photos
   beyond the limits are flagged before a long upload. The server checks all again. */
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }

  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (button && status && "geolocation" in navigator) {
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = button.dataset.busy;
      navigator.geolocation.getCurrentPosition(function (position) {
        document.getElementById("id_lat").value = position.coords.latitude.toFixed(6);
        document.getElementById("id_lng").value = position.coords.longitude.toFixed(6);
        status.textContent = button.dataset.done;
      }, function () {
        status.textContent = button.dataset.failed;
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    });
  }

  var photos = document.getElementById("id_photos");
  var photosStatus = document.getElementById("photos-status");
  if (photos && photosStatus) {
    photos.addEventListener("change", function () {
      var maxCount = Number(photos.dataset.maxCount), maxBytes = Number(photos.dataset.maxBytes);
      var files = Array.prototype.slice.call(photos.files || []);
      var message = "";
      if (files.length > maxCount) {
        message = photosStatus.dataset.tooMany;
      } else if (files.some(function (file) { return file.size > maxBytes; })) {
        message = photosStatus.dataset.tooLarge;
      }
      photosStatus.textContent = message;
    });
  }
})();
