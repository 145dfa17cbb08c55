// The async-loading snippet for H5 pages (docs/sdk.md shows it minified, from dist/siyu.snippet.js):
// defines a stub `window.siyu` that queues calls in `_q`, and loads the SDK without blocking the
// page. The loaded SDK replays the queue. Methods that return a value (`share`, `flush`,
// `getAnonymousId`, …) are not stubbed: call them inside `siyu.ready(function (siyu) { … })`.
(function (w, d, name, src) {
  var sdk = (w[name] = w[name] || { _q: [] });
  if (sdk.version) return; // the SDK itself is already on the page
  var methods = (
    'init track login logout identify setIdentity setProfile setOnceProfile incrementProfile appendProfile ' +
    'unsetProfile deleteProfile register unregister registerPage clearPageRegister trackTimerStart trackTimerPause ' +
    'trackTimerResume trackTimerEnd clearTrackTimer trackPageview ready'
  ).split(' ');
  for (var i = 0; i < methods.length; i++) {
    (function (m) {
      sdk[m] = sdk[m] || function () { sdk._q.push([m, arguments]); };
    })(methods[i]);
  }
  var s = d.createElement('script');
  s.async = true;
  s.src = src;
  var first = d.getElementsByTagName('script')[0];
  if (first && first.parentNode) first.parentNode.insertBefore(s, first);
  else d.head.appendChild(s);
})(window, document, 'siyu', 'https://cdn.example.com/siyu.h5.min.js');
