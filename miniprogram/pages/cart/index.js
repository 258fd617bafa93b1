// The cart and checkout: the bridge prices and places the order, then it is paid with
// WeChat Pay (JSAPI) through wx.requestPayment; the order page shows it paid.
const api = require('../../lib/api.js')
const cart = require('../../lib/cart.js')
const i18n = require('../../lib/i18n.js')
const { yuan } = require('../../lib/money.js')
const pay = require('../../lib/pay.js')
const session = require('../../lib/session.js')
const { fail, localise } = require('../../lib/page.js')
const track = require('../../lib/track.js')

Component({
  data: {
    t: {}, store: '', lines: [], estimate: '', fulfillment: 'pickup',
    address: { name: '', phone: '', address: '' }, note: '', busy: false, error: '', notice: '',
    coupons: [], couponLabels: [], couponIndex: 0,
  },
  methods: {
    onLoad() {
      track.pageView('pages/cart/index')
      localise(this, 'cartTitle')
      if (!session.requireLogin()) return null
      this.show(cart.load())
      return this.loadCoupons()
    },
    // My unused coupons to pick one at checkout; the bridge prices the order with it and
    // refuses one that does not apply (below its threshold, another store's). Not being a
    // member (404) or anything else failing only leaves the picker out.
    async loadCoupons() {
      const t = this.data.t
      try {
        const reply = await api.call('coupons', { query: { status: 'unused', limit: 50 } })
        const coupons = reply.items.map(c => ({ id: c.id, label: i18n.pick(c.name_zh, c.name_en)
          + (c.valid_until ? ` (${t.validUntil} ${c.valid_until.slice(0, 10)})` : '') }))
        this.setData({ coupons, couponLabels: [t.noCoupon, ...coupons.map(c => c.label)],
                       couponIndex: 0 })
      } catch (err) {
        this.setData({ coupons: [], couponLabels: [], couponIndex: 0 })
      }
    },
    pickCoupon(e) {
      this.setData({ couponIndex: Number(e.detail.value) })
    },
    show(c) {
      this.setData({
        store: c.store,
        lines: c.lines.map(l => ({ ...l, name: i18n.pick(l.name_zh, l.name_en),
                                   amount: yuan(l.unit_price * l.qty) })),
        estimate: yuan(cart.estimate(c)),
      })
    },
    more(e) {
      const line = this.data.lines.find(l => l.product_id === e.currentTarget.dataset.id)
      if (line) this.show(cart.setQty(line.product_id, line.qty + 1))
    },
    less(e) {
      const line = this.data.lines.find(l => l.product_id === e.currentTarget.dataset.id)
      if (line) this.show(cart.setQty(line.product_id, line.qty - 1))
    },
    pickFulfillment(e) {
      this.setData({ fulfillment: e.detail.value })
    },
    onField(e) {
      const field = e.currentTarget.dataset.field
      if (field === 'note') this.setData({ note: e.detail.value })
      else this.setData({ address: { ...this.data.address, [field]: e.detail.value } })
    },
    order() {
      const d = this.data
      const body = { store: d.store, fulfillment: d.fulfillment,
                     lines: d.lines.map(l => ({ product_id: l.product_id, qty: l.qty })) }
      if (d.fulfillment === 'delivery') body.shipping_address = { ...d.address }
      if (d.note.trim()) body.note = d.note.trim()
      if (d.couponIndex > 0) body.coupon_id = d.coupons[d.couponIndex - 1].id
      return body
    },
    async checkout() {
      const d = this.data
      if (!d.lines.length || d.busy) return
      const a = d.address
      if (d.fulfillment === 'delivery' && !(a.name && a.phone && a.address)) {
        this.setData({ error: d.t.addressNeeded })
        return
      }
      this.setData({ busy: true, error: '', notice: '' })
      try {
        const order = await api.call('createOrder', { body: this.order() })
        cart.clear()        // the order holds the lines now; paying later is from My orders
        this.show(cart.load())
        this.setData({ coupons: [], couponLabels: [], couponIndex: 0 })  // locked to the order
        const outcome = await pay.payOrder(order.order_no)
        if (outcome === 'paid') {
          wx.redirectTo({ url: `/pages/order/index?order_no=${order.order_no}&paying=1` })
        } else {
          this.setData({ busy: false, notice: outcome === 'cancelled' ? d.t.payCancelled : d.t.payFailed })
        }
      } catch (err) {
        fail(this, err)
      }
    },
  },
})
