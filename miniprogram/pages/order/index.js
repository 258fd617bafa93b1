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
// States in which goods were handed over, so a return can be asked for (orders.RETURNABLE).
const RETURNABLE = new Set(['completed', 'delivered', 'partially_refunded'])

Component({
  data: { t: {}, orderNo: '', order: null, waiting: false, busy: false, error: '', notice: '',
          password: '', tracking: null },
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
          // Every discount as the bridge priced it (coupon, promotions), labelled.
          discounts: ((o.details && o.details.discounts) || []).map(d => ({
            id: d.id, label: i18n.pick(d.label_zh, d.label_en), amount: '-' + yuan(d.amount) })),
          lines: o.lines.map(l => ({ line_no: l.line_no, name: i18n.pick(l.name_zh, l.name_en),
                                     qty: l.qty, amount: yuan(l.amount) })),
          invoice: o.invoice ? (t.invoiceStatus[o.invoice.status] || o.invoice.status) : '',
          tracking: o.tracking_no ? `${o.carrier || ''} ${o.tracking_no}`.trim() : '',
          canPay: o.status === 'created',
          canInvoice: !o.invoice && !NO_INVOICE.has(o.status),
          canReturn: RETURNABLE.has(o.status),
        },
        error: '',
      })
    },
    async load() {
      try {
        const o = await api.call('order', { path: { order_no: this.data.orderNo } })
        this.show(o)
        if (o.tracking_no) await this.loadTracking()
      } catch (err) {
        fail(this, err)
      }
    },
    // The carrier's news of a shipped delivery; an order the tracker has not heard of yet
    // (404) just shows its tracking number.
    async loadTracking() {
      const t = this.data.t
      try {
        const s = await api.call('tracking', { path: { order_no: this.data.orderNo } })
        this.setData({ tracking: {
          state: i18n.pick(s.state_zh, s.state_en),
          events: s.events.map((e, i) => ({ key: i, at: e.at.slice(0, 16).replace('T', ' '),
                                           text: e.context + (e.area ? ` (${e.area})` : '') })),
          empty: s.events.length ? '' : t.noTrackingYet,
        } })
      } catch (err) {
        if (err.status === 404) this.setData({ tracking: null })
        else fail(this, err)
      }
    },
    afterSales() {
      wx.navigateTo({ url: `/pages/aftersales/index?order_no=${this.data.orderNo}` })
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
