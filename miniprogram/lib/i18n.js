// Shopper-facing text in Chinese and English; the language follows the WeChat client's
// (wx.getAppBaseInfo().language: "zh_CN", "zh_TW", "en", ...). Chinese is the default.
const TEXT = {
  zh: {
    appTitle: '自助收银',
    loginTitle: '登录', login: '微信登录', loggingIn: '正在登录…',
    bindPhone: '绑定手机号并成为会员', skipPhone: '暂不绑定，直接成为会员',
    joinTitle: '成为会员', joinHint: '绑定手机号后可在所有门店使用会员码、积分与优惠券',
    homeTitle: '首页', pickStore: '选择门店', noStores: '暂无可选门店', store: '门店',
    memberCard: '会员卡', coupons: '优惠券', shop: '点单', cart: '购物车', myOrders: '我的订单',
    memberTitle: '会员卡', level: '等级', points: '积分', storedValue: '储值余额',
    codeHint: '向收银机摄像头出示此码', codeExpires: '有效期至', refresh: '刷新',
    notMember: '您还不是会员', join: '立即加入',
    couponsTitle: '我的优惠券', noCoupons: '暂无优惠券', validUntil: '有效期至',
    couponStatus: { unused: '可使用', locked: '使用中', used: '已使用', expired: '已过期' },
    minSpend: '满', off: '减',
    shopTitle: '点单', search: '搜索商品', noProducts: '没有找到商品', add: '加入', memberPrice: '会员价',
    cartTitle: '购物车', emptyCart: '购物车是空的', total: '合计', checkout: '去支付',
    pickup: '到店自提', delivery: '送货上门', name: '姓名', phone: '手机', address: '地址',
    note: '备注', paying: '正在支付…', payCancelled: '支付已取消，订单可在“我的订单”里继续支付',
    payFailed: '支付失败', addressNeeded: '请填写收货信息',
    ordersTitle: '我的订单', noOrders: '暂无订单', scanReceipt: '扫小票领取订单',
    claimed: '已领取订单', notAReceipt: '这不是本店小票的二维码', claimRefused: '无法领取该订单',
    orderTitle: '订单详情', orderNo: '订单号', pay: '支付', waitingPaid: '正在确认支付结果…',
    invoice: '申请发票', invoiceStatusLabel: '发票',
    status: {
      created: '待支付', paid: '已支付', pending_shipment: '待发货', shipped: '已发货',
      delivered: '已送达', completed: '已完成', cancelled: '已取消',
      partially_refunded: '部分退款', refunded: '已退款', returned: '已退货',
    },
    invoiceTitle: '申请发票', personal: '个人', company: '单位', invoiceTitleField: '发票抬头',
    taxId: '纳税人识别号', email: '接收邮箱', submit: '提交', invoiceRequested: '已提交发票申请',
    invoiceStatus: { requested: '已申请', issued: '已开具', failed: '开具失败', cancelled: '已取消' },
    unavailable: '暂不可用', retry: '重试', networkError: '网络不可用，请稍后重试',
    loginAgain: '登录已过期，请重新登录',
    payBalance: '余额支付', payPassword: '支付密码（6位数字）', balanceLeft: '余额',
    passwordLocked: '支付密码错误次数过多，已锁定，请稍后再试',
    payPasswordTitle: '支付密码', newPassword: '新密码（6位数字）', currentPassword: '当前密码',
    passwordSaved: '支付密码已设置', passwordFormat: '支付密码为6位数字',
    appointments: '预约服务', myBookings: '我的预约', book: '预约', cancel: '取消预约', full: '已约满',
    free: '余', booked: '预约成功', noServices: '该门店暂无可预约服务',
    tracking: '物流单号', feedback: '投诉与建议', complaint: '投诉', suggestion: '建议', subject: '标题', details: '详细说明',
    feedbackSent: '已提交，门店会尽快处理', feedbackNeeded: '请填写标题和说明',
    categories: {
      product_quality: '商品质量', price: '价格', service_attitude: '服务态度', checkout: '结账',
      delivery: '配送', hygiene: '卫生', environment: '购物环境', payment: '支付', other: '其他',
    },
    coupon: '优惠券', noCoupon: '不使用优惠券', couponOff: '优惠券抵扣', discounts: '优惠',
    trackingTitle: '物流跟踪', noTrackingYet: '暂无物流信息',
    afterSales: '退换货', afterSalesTitle: '退换货', myAfterSales: '我的退换货',
    returnGoods: '退货', exchangeGoods: '换货', reasonLabel: '原因', describe: '问题描述（选填）',
    addPhoto: '添加照片', photos: '照片', submitRequest: '提交申请', requestSent: '已提交，门店审核后处理',
    pickLines: '请选择要退换的商品', withdraw: '撤回申请', refundLabel: '退款', noAfterSales: '暂无退换货申请',
    reasons: {
      quality: '质量问题', damaged: '商品破损', expired: '临期或过期', wrong_item: '发错商品',
      not_as_described: '与描述不符', changed_mind: '不想要了', other: '其他',
    },
    afterSalesStatus: { requested: '待审核', approved: '已同意', rejected: '已拒绝', cancelled: '已撤回' },
    faq: '常见问题', faqTitle: '常见问题', faqSearch: '搜索问题', noFaq: '没有找到相关问题', back: '返回',
    chat: '在线客服', chatTitle: '在线客服', newChat: '咨询门店', chatSubject: '想咨询什么？',
    startChat: '开始咨询', send: '发送', messagePlaceholder: '输入消息', noChats: '暂无咨询记录',
    staff: '客服', me: '我',
    surveys: '满意度调查', surveysTitle: '满意度调查', noSurveys: '暂无需要填写的调查',
    scoreLabel: '评分', comment: '意见（选填）', thanks: '感谢您的反馈', pickScore: '请选择评分',
    changePhone: '更换手机号', phoneChanged: '手机号已更换', reauthFailed: '身份验证未通过，请重新登录后再试',
  },
  en: {
    appTitle: 'Self-checkout',
    loginTitle: 'Log in', login: 'Log in with WeChat', loggingIn: 'Logging in…',
    bindPhone: 'Bind my phone and join', skipPhone: 'Join without a phone number',
    joinTitle: 'Become a member', joinHint: 'Members use their code, points and coupons in every store',
    homeTitle: 'Home', pickStore: 'Pick a store', noStores: 'No store to pick yet', store: 'Store',
    memberCard: 'Member card', coupons: 'Coupons', shop: 'Order', cart: 'Cart', myOrders: 'My orders',
    memberTitle: 'Member card', level: 'Level', points: 'Points', storedValue: 'Stored value',
    codeHint: 'Show this code to the kiosk camera', codeExpires: 'Valid until', refresh: 'Refresh',
    notMember: 'You are not a member yet', join: 'Join now',
    couponsTitle: 'My coupons', noCoupons: 'No coupons yet', validUntil: 'Valid until',
    couponStatus: { unused: 'Ready', locked: 'In use', used: 'Used', expired: 'Expired' },
    minSpend: 'Spend', off: 'off',
    shopTitle: 'Order', search: 'Search products', noProducts: 'No product found', add: 'Add', memberPrice: 'Member',
    cartTitle: 'Cart', emptyCart: 'Your cart is empty', total: 'Total', checkout: 'Pay',
    pickup: 'Pick up in store', delivery: 'Delivery', name: 'Name', phone: 'Phone', address: 'Address',
    note: 'Note', paying: 'Paying…', payCancelled: 'Payment cancelled; pay it later from My orders',
    payFailed: 'Payment failed', addressNeeded: 'Please fill in the delivery address',
    ordersTitle: 'My orders', noOrders: 'No orders yet', scanReceipt: 'Scan a receipt to claim it',
    claimed: 'Order claimed', notAReceipt: 'That is not a receipt QR code of our stores', claimRefused: 'This order cannot be claimed',
    orderTitle: 'Order', orderNo: 'Order no.', pay: 'Pay', waitingPaid: 'Confirming the payment…',
    invoice: 'Request an invoice', invoiceStatusLabel: 'Invoice',
    status: {
      created: 'To pay', paid: 'Paid', pending_shipment: 'To ship', shipped: 'Shipped',
      delivered: 'Delivered', completed: 'Completed', cancelled: 'Cancelled',
      partially_refunded: 'Partly refunded', refunded: 'Refunded', returned: 'Returned',
    },
    invoiceTitle: 'Request an invoice', personal: 'Personal', company: 'Company', invoiceTitleField: 'Invoice title',
    taxId: 'Tax ID', email: 'Email', submit: 'Submit', invoiceRequested: 'Invoice requested',
    invoiceStatus: { requested: 'Requested', issued: 'Issued', failed: 'Failed', cancelled: 'Cancelled' },
    unavailable: 'Not available yet', retry: 'Retry', networkError: 'No network; please try again',
    loginAgain: 'Your session ended; please log in again',
    payBalance: 'Pay from balance', payPassword: 'Payment password (6 digits)', balanceLeft: 'Balance',
    passwordLocked: 'Too many wrong payment passwords; locked, try again later',
    payPasswordTitle: 'Payment password', newPassword: 'New password (6 digits)', currentPassword: 'Current password',
    passwordSaved: 'Payment password set', passwordFormat: 'A payment password is 6 digits',
    appointments: 'Appointments', myBookings: 'My bookings', book: 'Book', cancel: 'Cancel', full: 'Full',
    free: 'free', booked: 'Booked', noServices: 'No bookable service in this store',
    tracking: 'Tracking no.', feedback: 'Complaints & suggestions', complaint: 'Complaint', suggestion: 'Suggestion', subject: 'Subject', details: 'Details',
    feedbackSent: 'Sent; the store will answer soon', feedbackNeeded: 'Please fill in the subject and the details',
    categories: {
      product_quality: 'Product quality', price: 'Price', service_attitude: 'Service', checkout: 'Checkout',
      delivery: 'Delivery', hygiene: 'Hygiene', environment: 'Store environment', payment: 'Payment', other: 'Other',
    },
    coupon: 'Coupon', noCoupon: 'No coupon', couponOff: 'Coupon', discounts: 'Discounts',
    trackingTitle: 'Delivery tracking', noTrackingYet: 'No tracking news yet',
    afterSales: 'Returns', afterSalesTitle: 'Returns & exchanges', myAfterSales: 'My returns',
    returnGoods: 'Return', exchangeGoods: 'Exchange', reasonLabel: 'Reason', describe: 'What is wrong (optional)',
    addPhoto: 'Add a photo', photos: 'Photos', submitRequest: 'Send request', requestSent: 'Sent; the store will review it',
    pickLines: 'Pick the items to return or exchange', withdraw: 'Withdraw', refundLabel: 'Refund', noAfterSales: 'No return request yet',
    reasons: {
      quality: 'Quality problem', damaged: 'Damaged', expired: 'Expired or nearly', wrong_item: 'Wrong item',
      not_as_described: 'Not as described', changed_mind: 'Changed my mind', other: 'Other',
    },
    afterSalesStatus: { requested: 'Under review', approved: 'Approved', rejected: 'Rejected', cancelled: 'Withdrawn' },
    faq: 'FAQ', faqTitle: 'FAQ', faqSearch: 'Search questions', noFaq: 'No matching question', back: 'Back',
    chat: 'Chat with us', chatTitle: 'Customer service', newChat: 'Ask the store', chatSubject: 'What is it about?',
    startChat: 'Start', send: 'Send', messagePlaceholder: 'Type a message', noChats: 'No conversation yet',
    staff: 'Staff', me: 'Me',
    surveys: 'Surveys', surveysTitle: 'Satisfaction surveys', noSurveys: 'No survey to answer',
    scoreLabel: 'Score', comment: 'Comment (optional)', thanks: 'Thank you for your feedback', pickScore: 'Please pick a score',
    changePhone: 'Change phone number', phoneChanged: 'Phone number changed', reauthFailed: 'We could not confirm it is you; log in again and retry',
  },
}

function clientLanguage() {
  try {
    if (typeof wx.getAppBaseInfo === 'function') return wx.getAppBaseInfo().language || ''
    return wx.getSystemInfoSync().language || ''
  } catch (err) {
    return ''
  }
}

/** "zh" or "en": English when the WeChat client is in English, else Chinese. */
function lang() {
  return /^en/i.test(clientLanguage()) ? 'en' : 'zh'
}

/** Every text of the client's language, for a page's data (WXML reads {{t.key}}). */
function texts() {
  return TEXT[lang()]
}

/** A product's or a level's name in the client's language (falls back to Chinese). */
function pick(zh, en) {
  return lang() === 'en' && en ? en : zh
}

module.exports = { TEXT, lang, texts, pick }
