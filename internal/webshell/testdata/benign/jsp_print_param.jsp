<%@ page contentType="text/html; charset=UTF-8" %>
<%@ taglib prefix="c" uri="http://java.sun.com/jsp/jstl/core" %>
<html><body>
<% String who = request.getParameter("who"); %>
<p>Hello, <%= org.apache.commons.text.StringEscapeUtils.escapeHtml4(who) %></p>
</body></html>
