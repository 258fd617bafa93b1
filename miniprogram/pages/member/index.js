// The member card: level, points, stored value and the dynamic member code as a QR,
// fetched again before it expires for as long as the page is on screen.
const api = require('../../lib/api.js')
const i18n = require('../../lib/i18n.js')
const { yuan } = require('../../lib/money.js')
const { qrDataUrl, refreshDelayMs } = require('../../lib/qr.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

function clock(epochS) {
  const d = new Date(epochS * 1000)
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`
}

Component({
  data: { t: {}, member: null, qr: '', code: '', expires: '', notMember: false, error: '',
          notice: '', busy: false },
  methods: {
    onLoad() {
      track.pageView('pages/member/index')
      localise(this, 'memberTitle')
      if (!session.requireLogin()) return null
      return this.refresh()
    },
    onShow() {
      if (this.data.member && !this._timer) return this.refresh()
      return null
    },
    onHide() {
      this.stop()
    },
    onUnload() {
      this.stop()
    },
    stop() {
      if (this._timer) clearTimeout(this._timer)
      this._timer = null
    },
    async refresh() {
      this.stop()
      try {
        const [member, code] = await Promise.all([api.call('member'), api.call('memberCode')])
        this.setData({
          member: { level: i18n.pick(member.level_name_zh, member.level_name_en),
                    points: code.points, storedValue: yuan(code.stored_value),
                    phone: member.phone_masked || '' },
          code: code.code, qr: qrDataUrl(code.code), expires: clock(code.expires_at),
          notMember: false, error: '',
        })
        this._timer = setTimeout(() => {
          this._timer = null
          this.refresh()
        }, refreshDelayMs(code.expires_at, Date.now()))
      } catch (err) {
        if (err.status === 404) this.setData({ notMember: true, member: null, qr: '' })
        else fail(this, err)
      }
    },
    // Another phone number: the bridge wants the WeChat user present (a fresh wx.login
    // code, re-authentication) besides getPhoneNumber's code for the new number.
    async onNewPhone(e) {
      const phoneCode = e && e.detail && e.detail.code
      if (!phoneCode || this.data.busy) return
      const t = this.data.t
      this.setData({ busy: true, error: '', notice: '' })
      try {
        const loginCode = await session.wxLoginCode()
        const changed = await api.call('changePhone', { body: { login_code: loginCode, phone_code: phoneCode } })
        this.setData({ busy: false, notice: t.phoneChanged,
                       member: { ...this.data.member, phone: changed.phone_masked || '' } })
      } catch (err) {
        if (err.status === 403) this.setData({ busy: false, error: t.reauthFailed })
        else fail(this, err)
      }
    },
    payPassword() {
      wx.navigateTo({ url: '/pages/paypassword/index' })
    },
    join() {
      wx.navigateTo({ url: '/pages/login/index' })
    },
  },
})
