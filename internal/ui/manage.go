package ui

func (u *UI) manageRoutes() {}
