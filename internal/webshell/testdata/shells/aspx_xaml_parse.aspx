<%@ Page Language="C#" %>
<script runat="server">
    // Hand-written fixture: posted XAML is parsed; an ObjectDataProvider in
    // it can call any method.
    void Page_Load(object sender, EventArgs e)
    {
        System.Windows.Markup.XamlReader.Parse(Request.Form["x"]);
    }
</script>
