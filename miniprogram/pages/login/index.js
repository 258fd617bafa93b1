// Login (wx.login -> the bridge's code2session) and joining the membership, with the
// WeChat phone number when the shopper allows it (getPhoneNumber's one-time code).
const api = require('../../lib/api.js')
const session = require('../../lib/session.js')
const { errorText, fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

Component({
  data: { t: {}, step: 'login', busy: false, error: '' },
  methods: {
    onLoad() {
      track.pageView('pages/login/index')
      localise(this, 'loginTitle')
      if (session.token()) return this.afterLogin()
      return null
    },
    async login() {
      this.setData({ busy: true, error: '' })
      try {
        const code = await session.wxLoginCode()
        session.save(await api.call('login', { body: { code } }))
        await this.afterLogin()
      } catch (err) {
        // Here a 401 is a refused wx.login code, not a lost session: say why, stay here.
        this.setData({ error: err.detail || errorText(err), busy: false })
      }
    },
    async afterLogin() {
      try {
        await api.call('member')
        wx.reLaunch({ url: '/pages/home/index' })
      } catch (err) {
        if (err.status === 404) this.setData({ step: 'join', busy: false })
        else fail(this, err)
      }
    },
    onPhone(e) {
      const code = e && e.detail && e.detail.code
      if (!code) return null           // the shopper declined: they may join without it
      return this.join({ phone_code: code })
    },
    skip() {
      return this.join({})
    },
    async join(body) {
      this.setData({ busy: true, error: '' })
      const store = session.store()
      try {
        await api.call('register', { body: store ? { ...body, home_store: store } : body })
        wx.reLaunch({ url: '/pages/home/index' })
      } catch (err) {
        fail(this, err)
      }
    },
  },
})
