// The shoppers' mini-program. Pages are built with Component() (WeChat supports pages
// made that way), so that miniprogram-simulate renders them in the tests as they are.
App({
  onLaunch() {
    // Nothing to do at launch: each page asks lib/session for the session it needs,
    // and login happens on the login page (wx.login -> the bridge's code2session).
  },
})
