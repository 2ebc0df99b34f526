package ui

func (u *UI) trustRoutes() {}
