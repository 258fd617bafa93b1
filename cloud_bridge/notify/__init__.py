"""Notifications to shoppers: WeChat mini-program subscribe messages (订阅消息)."""
