// One of my orders: lines, totals, status, paying an unpaid one, the invoice.
const api = require('../../lib/api.js')
const i18n = require('../../lib/i18n.js')
const { yuan } = require('../../lib/money.js')
const pay = require('../../lib/pay.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

// No invoice for an order that was never paid or was given back in full.
const NO_INVOICE = new Set(['created', 'cancelled', 'refunded'])

Component({
  data: { t: {}, orderNo: '', order: null, waiting: false, busy: false, error: '', notice: '',
          password: '' },
  methods: {
    onLoad(options) {
      track.pageView('pages/order/index')
      localise(this, 'orderTitle')
      if (!session.requireLogin()) return null
      this.setData({ orderNo: options.order_no })
      return options.paying === '1' ? this.waitPaid() : this.load()
    },
    show(o) {
      const t = this.data.t
      this.setData({
        order: {
          order_no: o.order_no, store: o.store, status: o.status,
          statusText: t.status[o.status] || o.status, total: yuan(o.total),
          discount: o.discount_total ? yuan(o.discount_total) : '',
          lines: o.lines.map(l => ({ line_no: l.line_no, name: i18n.pick(l.name_zh, l.name_en),
                                     qty: l.qty, amount: yuan(l.amount) })),
          invoice: o.invoice ? (t.invoiceStatus[o.invoice.status] || o.invoice.status) : '',
          tracking: o.tracking_no ? `${o.carrier || ''} ${o.tracking_no}`.trim() : '',
          canPay: o.status === 'created',
          canInvoice: !o.invoice && !NO_INVOICE.has(o.status),
        },
        error: '',
      })
    },
    async load() {
      try {
        this.show(await api.call('order', { path: { order_no: this.data.orderNo } }))
      } catch (err) {
        fail(this, err)
      }
    },
    async waitPaid() {
      this.setData({ waiting: true })
      try {
        this.show(await pay.waitPaid(this.data.orderNo))
      } catch (err) {
        fail(this, err)
      }
      this.setData({ waiting: false })
    },
    async pay() {
      if (this.data.busy) return
      const t = this.data.t
      this.setData({ busy: true, error: '', notice: '' })
      try {
        const outcome = await pay.payOrder(this.data.orderNo)
        this.setData({ busy: false })
        if (outcome === 'paid') await this.waitPaid()
        else this.setData({ notice: outcome === 'cancelled' ? t.payCancelled : t.payFailed })
      } catch (err) {
        fail(this, err)
      }
    },
    onPassword(e) {
      this.setData({ password: e.detail.value })
    },
    // Stored value: the member's own payment password, checked by the bridge (locked
    // after five wrong ones); the order is paid when the call answers.
    async payBalance() {
      const t = this.data.t
      const password = this.data.password
      if (this.data.busy) return
      if (!/^[0-9]{6}$/.test(password)) {
        this.setData({ error: t.passwordFormat })
        return
      }
      this.setData({ busy: true, error: '', notice: '', password: '' })
      try {
        const paid = await api.call('payStoredValue', { path: { order_no: this.data.orderNo },
                                                        body: { password } })
        this.setData({ busy: false, notice: `${t.balanceLeft} ${yuan(paid.balance)}` })
        await this.load()
      } catch (err) {
        if (err.status === 429) this.setData({ busy: false, error: t.passwordLocked })
        else fail(this, err)
      }
    },
    feedback() {
      wx.navigateTo({ url: `/pages/feedback/index?order_no=${this.data.orderNo}` })
    },
    invoice() {
      wx.navigateTo({ url: `/pages/invoice/index?order_no=${this.data.orderNo}` })
    },
  },
})
