// The shoppers' mini-program. Pages are built with Component() (WeChat supports pages
// made that way), so that miniprogram-simulate renders them in the tests as they are.
const track = require('./lib/track.js')

App({
  onLaunch(options) {
    // Each page asks lib/session for the session it needs, and login happens on the
    // login page (wx.login -> the bridge's code2session). Here only the entry channel
    // (the launch scene) is recorded and the analytics events start to be sent.
    track.start(options)
  },
  onHide() {
    track.flush()
  },
})
